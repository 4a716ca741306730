//! An in-memory agent speaking the real codec over `tokio::io::duplex`.

use backup_orchestrator_proto::{Hello, MessageCodec, Request, Role};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::codec::FramedRead;

use crate::transport::{AgentChannel, RemoteExit};

/// The agent's end of a fake channel.
pub struct FakeAgent {
    pub frames_in: FramedRead<tokio::io::DuplexStream, MessageCodec<serde_json::Value>>,
    pub out: tokio::io::DuplexStream,
    pub exit: watch::Sender<RemoteExit>,
}

/// A channel for the controller and the agent's end of it.
pub fn pair() -> (AgentChannel, FakeAgent) {
    let (ctl_out, agent_in) = tokio::io::duplex(64 * 1024);
    let (agent_out, ctl_in) = tokio::io::duplex(64 * 1024);
    let (exit_tx, exit_rx) = watch::channel(RemoteExit::default());
    let channel = AgentChannel {
        stdout: Box::new(ctl_in),
        stdin: Box::new(ctl_out),
        exit: exit_rx,
        keep_alive: Box::new(()),
    };
    let agent = FakeAgent {
        frames_in: FramedRead::new(agent_in, MessageCodec::new()),
        out: agent_out,
        exit: exit_tx,
    };
    (channel, agent)
}

impl FakeAgent {
    /// Reads the controller's Hello (as JSON values, to see exactly what was sent).
    pub async fn read_frame(&mut self) -> serde_json::Value {
        self.frames_in
            .next()
            .await
            .expect("a frame")
            .expect("a valid frame")
    }

    pub async fn write<T: serde::Serialize>(&mut self, item: &T) {
        use tokio::io::AsyncWriteExt;
        let frame = backup_orchestrator_proto::codec::encode_frame(item).unwrap();
        self.out.write_all(&frame).await.unwrap();
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.out.write_all(bytes).await.unwrap();
    }

    /// Reads our Hello and answers with `hello`; returns the Request that follows.
    pub async fn handshake(&mut self, hello: &Hello) -> Request {
        let ours = self.read_frame().await;
        assert_eq!(ours["role"], "controller");
        self.write(hello).await;
        serde_json::from_value(self.read_frame().await).expect("a Request")
    }

    /// Ends the process: stdout closes, then the exit status arrives.
    pub fn exit(self, status: Option<u32>, stderr: &str) {
        drop(self.out);
        self.exit.send_modify(|e| {
            e.status = status;
            e.stderr = stderr.to_owned();
            e.finished = true;
        });
    }
}

/// An agent Hello of this build.
pub fn agent_hello() -> Hello {
    Hello::new(Role::Agent, "backup-orchestrator 0.1.0")
}
