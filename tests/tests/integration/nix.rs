//! The Nix files, offline, with Debian's `nix-bin` (Nix 2.8; `tests/hosts/install-deps` installs
//! it, and these tests fail rather than skip without it):
//!
//! - every `.nix` file in the repository parses (`nix-instantiate --parse`), found by walking the
//!   tree, so a new file is covered without being listed;
//! - `ansible-free-deploy/module.nix` evaluates with nixpkgs' own `lib.evalModules` (the snapshot
//!   at `../shared/third-party/nixpkgs-lib`, or `NIXPKGS_LIB`) against typed stand-ins for the NixOS
//!   options it sets and a fake `pkgs` (`tests/nix/`): the sudo rule, the plan it renders (compared
//!   with an independent TOML parse), the plan check, the schedule;
//! - `ansible-free-deploy/package.nix` evaluates to the build arguments it promises;
//! - `flake.nix`'s outputs, called with a fake nixpkgs input, give each system the packages it
//!   promises, the overlay and the module.
//!
//! Not covered here (it needs nixpkgs itself, a store and a newer Nix): building the packages (and
//! so the unit tests in the build, the completions and man page), the plan check actually running,
//! the source fileset (`lib.fileset` needs Nix 2.14), the real NixOS option types, the flake's
//! checks. `nix flake check` does those where nixpkgs can be fetched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use backup_orchestrator_tests::{controller_binary, output_with_timeout};
use serde_json::{Value, json};

/// An evaluation takes well under a second; this only bounds a hung one.
const NIX_TIMEOUT: Duration = Duration::from_secs(60);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the repository root")
        .to_path_buf()
}

/// The directory holding nixpkgs' `lib/`: `NIXPKGS_LIB`, else the shared snapshot.
fn nixpkgs_lib() -> PathBuf {
    let dir = std::env::var_os("NIXPKGS_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/third-party/nixpkgs-lib"));
    assert!(
        dir.join("lib/default.nix").is_file(),
        "no nixpkgs lib at {} (expected lib/default.nix there): set NIXPKGS_LIB to a nixpkgs \
         checkout or a nixpkgs.lib snapshot",
        dir.display()
    );
    dir
}

/// `nix-instantiate` with a private, throw-away state directory: nothing is read from or written
/// to a store, and nothing is fetched.
struct Nix {
    state: tempfile::TempDir,
}

impl Nix {
    fn new() -> Nix {
        let found = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join("nix-instantiate").is_file())
        });
        assert!(
            found,
            "nix-instantiate not found: install Debian's nix-bin (`apt-get install nix-bin`, as \
             tests/hosts/install-deps does)"
        );
        Nix {
            state: tempfile::tempdir().expect("temporary directory for NIX_STATE_DIR"),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("nix-instantiate");
        cmd.current_dir(repo_root())
            .env("NIX_STATE_DIR", self.state.path())
            .env("XDG_CACHE_HOME", self.state.path().join("cache"))
            .arg("--readonly-mode");
        cmd
    }

    /// Runs `cmd`; `Ok(stdout)` on success, `Err(stderr)` on a failed evaluation.
    fn run(cmd: &mut Command) -> Result<String, String> {
        let out = output_with_timeout(cmd, NIX_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Evaluates `file` (relative to the repository) strictly to JSON, with `--argstr` pairs.
    fn eval(&self, file: &str, args: &[(&str, &str)]) -> Result<Value, String> {
        let mut cmd = self.command();
        cmd.args(["--eval", "--strict", "--json", file]);
        cmd.arg("--argstr").arg("nixpkgsLib").arg(nixpkgs_lib());
        for (name, value) in args {
            cmd.args(["--argstr", name, value]);
        }
        Self::run(&mut cmd).map(|stdout| {
            serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{file} printed no JSON ({e}):\n{stdout}"))
        })
    }
}

/// The module's view of a system configured with `config` (a NixOS module, as JSON).
fn eval_module(nix: &Nix, config: &Value) -> Result<Value, String> {
    nix.eval(
        "tests/nix/eval-module.nix",
        &[("configJson", &config.to_string())],
    )
}

fn eval_module_ok(config: &Value) -> Value {
    eval_module(&Nix::new(), config).unwrap_or_else(|e| panic!("module evaluation failed:\n{e}"))
}

fn service(config: Value) -> Value {
    json!({ "services": { "backup-orchestrator": config } })
}

fn workspace_package() -> toml::Table {
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).expect("Cargo.toml");
    let mut root: toml::Table = toml::from_str(&manifest).expect("Cargo.toml parses");
    let Some(toml::Value::Table(mut workspace)) = root.remove("workspace") else {
        panic!("Cargo.toml has no [workspace]");
    };
    let Some(toml::Value::Table(package)) = workspace.remove("package") else {
        panic!("Cargo.toml has no [workspace.package]");
    };
    package
}

fn workspace_key(key: &str) -> String {
    workspace_package()
        .get(key)
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("[workspace.package] {key} is not a string"))
        .to_owned()
}

/// The agent as the module installs it: package.nix's default package for the agent, from the
/// fake rustPlatform (so at the fake store path).
fn agent_exe() -> String {
    format!(
        "/nix/store/00000000000000000000000000000000-backup-orchestrator-{}/bin/backup-orchestrator",
        workspace_key("version")
    )
}

/// A TOML document as the JSON value Nix would hold for it.
fn toml_as_json(text: &str) -> Value {
    let table: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    serde_json::to_value(table).expect("TOML values are JSON values")
}

fn nix_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            // Build output and git's own files are not the project's sources.
            if !matches!(entry.file_name().to_str(), Some("target" | ".git")) {
                nix_files(&path, found);
            }
        } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "nix") {
            found.push(path);
        }
    }
}

#[test]
fn nix_every_file_in_the_repository_parses() {
    let root = repo_root();
    let mut files = Vec::new();
    nix_files(&root, &mut files);
    files.sort();
    let relative: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    for expected in [
        "flake.nix",
        "ansible-free-deploy/module.nix",
        "ansible-free-deploy/package.nix",
        "tests/nix/eval-module.nix",
    ] {
        assert!(
            relative.iter().any(|f| f == expected),
            "{expected} not found among {relative:?}"
        );
    }

    let nix = Nix::new();
    let failures: Vec<String> = files
        .iter()
        .zip(&relative)
        .filter_map(|(file, name)| {
            let mut cmd = nix.command();
            cmd.arg("--parse").arg(file);
            Nix::run(&mut cmd)
                .err()
                .map(|stderr| format!("{name}:\n{stderr}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "files that do not parse:\n{}",
        failures.join("\n")
    );
}

#[test]
fn nix_module_lets_each_controller_user_run_exactly_agent_serve_as_root_without_password() {
    let out = eval_module_ok(&service(json!({
        "enable": true,
        "controllerUsers": ["deploy", "ci"],
    })));
    assert_eq!(
        out["sudo"],
        json!([{
            "users": ["deploy", "ci"],
            "groups": [],
            "host": "ALL",
            "runAs": "root",
            "commands": [{ "command": format!("{} serve", agent_exe()), "options": ["NOPASSWD"] }],
        }])
    );
    assert_eq!(out["sudoRs"], json!([]), "sudo-rs is not enabled");
}

#[test]
fn nix_module_puts_the_rule_in_sudo_rs_when_sudo_rs_is_enabled() {
    let mut config = service(json!({ "enable": true, "controllerUsers": ["deploy"] }));
    config["security"] = json!({ "sudo-rs": { "enable": true } });
    let out = eval_module_ok(&config);
    assert_eq!(out["sudo"], json!([]));
    let rules = out["sudoRs"].as_array().expect("sudo-rs rules");
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0]["users"], json!(["deploy"]));
    assert_eq!(rules[0]["runAs"], "root");
    assert_eq!(
        rules[0]["commands"],
        json!([{ "command": format!("{} serve", agent_exe()), "options": ["NOPASSWD"] }])
    );
}

#[test]
fn nix_module_installs_only_the_agent_and_writes_nothing_else_by_default() {
    let out = eval_module_ok(&service(json!({ "enable": true })));
    let agent_package = agent_exe()
        .trim_end_matches("/bin/backup-orchestrator")
        .to_owned();
    assert_eq!(out["systemPackages"].as_array().map(Vec::len), Some(1));
    assert_eq!(out["systemPackages"][0]["path"], agent_package);
    // No plan file: the agent's built-in plan applies. No rule, no schedule.
    assert_eq!(out["etc"], json!({}));
    assert_eq!(out["sudo"], json!([]));
    assert_eq!(out["services"], json!({}));
    assert_eq!(out["timers"], json!({}));
    assert_eq!(
        out["tmpfiles"],
        json!(["d /var/lib/backup-orchestrator 0750 root root -"])
    );
}

#[test]
fn nix_module_sets_nothing_when_disabled() {
    let out = eval_module_ok(&service(json!({
        "enable": false,
        "controllerUsers": ["deploy"],
        "startAt": "03:00",
        "textfile": "/var/lib/metrics/backup-orchestrator.prom",
    })));
    for key in ["etc", "services", "timers"] {
        assert_eq!(out[key], json!({}), "{key}");
    }
    for key in ["sudo", "sudoRs", "systemPackages", "tmpfiles"] {
        assert_eq!(out[key], json!([]), "{key}");
    }
}

#[test]
fn nix_module_renders_the_given_plan_with_the_textfile_and_checks_it_at_build_time() {
    let plan_toml = r#"
        failure_threshold_percent = 25

        [monitoring]
        textfile = "/var/lib/old/replaced.prom"

        [[preflight.disk]]
        path = "/mnt/nas-backup"
        min_free = "10G"

        [[stage]]
        name = "restic"
        units = ["restic-backup-*.service"]
        exclude = ["restic-backup-scratch.service"]
        parallel = 2
        timeout = "45m"
        on_failure = "warn"
    "#;
    let textfile = "/var/lib/prometheus-node-exporter-text-files/backup-orchestrator.prom";
    let out = eval_module_ok(&service(json!({
        "enable": true,
        "plan": toml_as_json(plan_toml),
        "textfile": textfile,
    })));

    let file = &out["etc"]["backup-orchestrator/plan.toml"];
    assert_eq!(file["enable"], true);
    assert_eq!(file["target"], "backup-orchestrator/plan.toml");
    let mut expected = toml_as_json(plan_toml);
    expected["monitoring"]["textfile"] = json!(textfile);
    assert_eq!(
        file["source"]["plan"], expected,
        "the option wins over the plan's key"
    );

    // The file NixOS links is the output of the check, which fails the build on a bad plan.
    let script = file["source"]["buildCommand"]
        .as_str()
        .expect("build script");
    let check = format!("{} check-plan --no-host \"$plan\"", agent_exe());
    let copy = "cp \"$plan\" \"$out\"";
    let (check_at, copy_at) = (script.find(&check), script.find(copy));
    assert!(
        check_at.is_some() && copy_at.is_some() && check_at < copy_at,
        "the plan is not checked before it is copied:\n{script}"
    );
}

#[test]
fn nix_module_writes_the_built_in_plan_when_only_a_textfile_is_given() {
    let textfile = "/var/lib/metrics/backup-orchestrator.prom";
    let out = eval_module_ok(&service(json!({ "enable": true, "textfile": textfile })));
    // The built-in plan is plan.example.toml (the agent's tests hold them equal); Nix read it with
    // its own TOML parser, compared here with the toml crate's reading.
    let example =
        std::fs::read_to_string(repo_root().join("ansible-free-deploy/plan.example.toml"))
            .expect("plan.example.toml");
    let mut expected = toml_as_json(&example);
    expected["monitoring"] = json!({ "textfile": textfile });
    assert_eq!(
        out["etc"]["backup-orchestrator/plan.toml"]["source"]["plan"],
        expected
    );
}

#[test]
fn nix_module_skips_the_plan_check_when_check_plan_is_off() {
    let out = eval_module_ok(&service(json!({
        "enable": true,
        "plan": { "failure_threshold_percent": 10 },
        "checkPlan": false,
    })));
    let source = &out["etc"]["backup-orchestrator/plan.toml"]["source"];
    assert_eq!(source["plan"], json!({ "failure_threshold_percent": 10 }));
    let script = source["buildCommand"].as_str().expect("build script");
    assert!(!script.contains("check-plan"), "{script}");
    assert!(script.contains("cp \"$plan\" \"$out\""), "{script}");
}

#[test]
fn nix_module_schedules_an_unattended_run_with_its_verdict_as_exit_status_when_start_at_is_set() {
    let out = eval_module_ok(&service(json!({
        "enable": true,
        "startAt": ["Mon 03:00", "Thu 03:00"],
    })));
    let name = "backup-orchestrator-scheduled";
    assert_eq!(
        out["timers"],
        json!({ name: {
            "description": "Schedule of backup-orchestrator-scheduled.service",
            "documentation": [],
            "unitConfig": {},
            "wantedBy": ["timers.target"],
            "requiredBy": [], "wants": [], "requires": [], "after": [], "before": [],
            "timerConfig": { "OnCalendar": ["Mon 03:00", "Thu 03:00"], "Persistent": true },
        }})
    );
    let services = out["services"].as_object().expect("services");
    assert_eq!(services.keys().collect::<Vec<_>>(), [name]);
    let unit = &services[name];
    // Not the run's own transient unit, which the agent starts whoever asks for a run.
    assert_ne!(format!("{name}.service"), "backup-orchestrator-run.service");
    assert_eq!(
        unit["serviceConfig"],
        json!({
            "Type": "oneshot",
            "ExecStart": format!("{} --yes", agent_exe()),
            "SyslogIdentifier": name,
        })
    );
    assert_eq!(
        unit["restartIfChanged"], false,
        "a switch must not kill a scheduled run's follower"
    );
    assert_eq!(unit["after"], json!(["remote-fs.target"]));

    let single = eval_module_ok(&service(json!({ "enable": true, "startAt": "daily" })));
    assert_eq!(
        single["timers"][name]["timerConfig"]["OnCalendar"],
        json!(["daily"])
    );
}

#[test]
fn nix_module_schedules_nothing_without_start_at() {
    let out = eval_module_ok(&service(json!({ "enable": true, "startAt": [] })));
    assert_eq!(out["timers"], json!({}));
    assert_eq!(out["services"], json!({}));
}

#[test]
fn nix_module_evaluation_refuses_mistyped_options() {
    let nix = Nix::new();
    for (config, needle) in [
        (
            json!({ "enable": true, "textfile": "/var/lib/metrics/run.txt" }),
            "textfile",
        ),
        (json!({ "enable": true, "startAt": 3 }), "startAt"),
        (
            json!({ "enable": true, "controllerUsers": "deploy" }),
            "controllerUsers",
        ),
        (json!({ "enable": true, "plann": {} }), "plann"),
    ] {
        let err = eval_module(&nix, &service(config.clone()))
            .err()
            .unwrap_or_else(|| panic!("{config} evaluated"));
        assert!(
            err.contains(needle),
            "{config}: the error does not name {needle}:\n{err}"
        );
    }
}

fn eval_package(components: &Value, rustc: &str) -> Result<Value, String> {
    Nix::new().eval(
        "tests/nix/eval-package.nix",
        &[
            ("componentsJson", &components.to_string()),
            ("rustcVersion", rustc),
        ],
    )
}

#[test]
fn nix_package_builds_and_installs_only_the_two_binaries_and_tests_all_but_the_real_host_crate() {
    let out = eval_package(&Value::Null, "1.91.0").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out["version"], workspace_key("version"));
    assert_eq!(
        out["cargoBuildFlags"],
        json!(["-p", "backup-orchestrator", "-p", "backup-orchestrator-ctl"])
    );
    let tests = out["cargoTestFlags"].as_array().expect("cargoTestFlags");
    assert!(
        tests.contains(&json!("backup-orchestrator"))
            && tests.contains(&json!("backup-orchestrator-ctl"))
    );
    assert!(
        !tests.contains(&json!("backup-orchestrator-tests"))
            && !tests.contains(&json!("--workspace")),
        "the real-host tests cannot run in the build sandbox: {tests:?}"
    );
    let post_install = out["postInstall"].as_str().expect("postInstall");
    for shell in ["bash", "fish", "zsh"] {
        assert!(
            post_install.contains(&format!(
                "--{shell} <($out/bin/backup-orchestrator-ctl completions {shell})"
            )),
            "{shell} completions missing:\n{post_install}"
        );
    }
    assert!(post_install.contains("backup-orchestrator-ctl man > backup-orchestrator-ctl.1"));
    assert!(post_install.contains("installManPage backup-orchestrator-ctl.1"));

    // meta.license says what Cargo.toml says.
    let cargo_licenses: Vec<String> = workspace_key("license")
        .split(" OR ")
        .map(str::to_owned)
        .collect();
    assert_eq!(out["licenses"], json!(cargo_licenses));
    for file in ["LICENSE-MIT", "LICENSE-APACHE"] {
        assert!(repo_root().join(file).is_file(), "{file} missing");
    }
    assert_eq!(out["mainProgram"], "backup-orchestrator-ctl");
    let platforms = out["platforms"].as_array().expect("platforms");
    assert!(platforms.contains(&json!("x86_64-linux")));
    assert!(
        !platforms
            .iter()
            .any(|p| p.as_str().is_some_and(|p| p.ends_with("-darwin")))
    );
}

#[test]
fn nix_package_controller_alone_builds_on_darwin_and_the_agent_alone_has_no_completions() {
    let controller =
        eval_package(&json!(["controller"]), "1.91.0").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(controller["pname"], "backup-orchestrator-ctl");
    assert_eq!(controller["mainProgram"], "backup-orchestrator-ctl");
    assert_eq!(
        controller["cargoBuildFlags"],
        json!(["-p", "backup-orchestrator-ctl"])
    );
    let platforms = controller["platforms"].as_array().expect("platforms");
    assert!(
        platforms.contains(&json!("aarch64-darwin")) && platforms.contains(&json!("x86_64-linux"))
    );

    let agent = eval_package(&json!(["agent"]), "1.91.0").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        agent["cargoBuildFlags"],
        json!(["-p", "backup-orchestrator"])
    );
    assert_eq!(
        agent["postInstall"], "",
        "the agent has no completions or man subcommand"
    );
    assert_eq!(agent["mainProgram"], "backup-orchestrator");

    let err =
        eval_package(&json!(["sandbox"]), "1.91.0").expect_err("an unknown component is refused");
    assert!(err.contains("components must be"), "{err}");
}

#[test]
fn nix_package_refuses_a_rustc_older_than_the_workspace_rust_version() {
    let minimum = workspace_key("rust-version");
    eval_package(&Value::Null, &minimum)
        .unwrap_or_else(|e| panic!("rustc {minimum} refused:\n{e}"));
    let err = eval_package(&Value::Null, "1.85.0").expect_err("rustc 1.85.0 accepted");
    assert!(err.contains(&format!("needs rustc >= {minimum}")), "{err}");
}

#[test]
fn nix_flake_gives_linux_both_binaries_and_darwin_the_controller_only() {
    let out = Nix::new()
        .eval("tests/nix/eval-flake.nix", &[])
        .unwrap_or_else(|e| panic!("flake evaluation failed:\n{e}"));
    assert_eq!(out["inputs"], json!(["nixpkgs"]));
    let agent = json!(["-p", "backup-orchestrator"]);
    let controller = json!(["-p", "backup-orchestrator-ctl"]);
    for system in ["x86_64-linux", "aarch64-linux"] {
        let packages = &out["packages"][system];
        assert_eq!(packages["agent"]["cargoBuildFlags"], agent, "{system}");
        assert_eq!(
            packages["controller"]["cargoBuildFlags"], controller,
            "{system}"
        );
        assert_eq!(
            packages["default"]["cargoBuildFlags"],
            json!(["-p", "backup-orchestrator", "-p", "backup-orchestrator-ctl"]),
            "{system}"
        );
        assert_eq!(
            out["checks"][system],
            json!(["agent", "controller", "module-plan", "module-rules"]),
            "{system}"
        );
    }
    for system in ["x86_64-darwin", "aarch64-darwin"] {
        let packages = out["packages"][system]
            .as_object()
            .expect("darwin packages");
        assert_eq!(
            packages.keys().collect::<Vec<_>>(),
            ["controller", "default"],
            "{system}"
        );
        assert_eq!(
            packages["default"]["cargoBuildFlags"], controller,
            "{system}"
        );
        assert_eq!(out["checks"][system], json!(["controller"]), "{system}");
    }
    assert_eq!(
        out["overlay"]["backup-orchestrator"]["cargoBuildFlags"],
        agent
    );
    assert_eq!(
        out["overlay"]["backup-orchestrator-ctl"]["cargoBuildFlags"],
        controller
    );
    let module = Path::new(out["nixosModule"].as_str().expect("module path"));
    assert_eq!(
        module
            .strip_prefix(out["repository"].as_str().expect("repository"))
            .ok(),
        Some(Path::new("ansible-free-deploy/module.nix"))
    );
}

/// `installShellCompletion` and `installManPage` as nixpkgs' installShellFiles defines them, reduced
/// to what the package calls: copy each file where the real hooks would put it.
const INSTALL_SHELL_FILES_STAND_IN: &str = r#"
installShellCompletion() {
    local cmd=
    while [ $# -gt 0 ]; do
        case $1 in
            --cmd) cmd=$2; shift 2 ;;
            --bash) install -D -m 0644 "$2" "$out/share/bash-completion/completions/$cmd.bash"; shift 2 ;;
            --fish) install -D -m 0644 "$2" "$out/share/fish/vendor_completions.d/$cmd.fish"; shift 2 ;;
            --zsh) install -D -m 0644 "$2" "$out/share/zsh/site-functions/_$cmd"; shift 2 ;;
            *) echo "installShellCompletion: unexpected $1" >&2; return 1 ;;
        esac
    done
}
installManPage() {
    install -D -m 0644 "$1" "$out/share/man/man1/$(basename "$1")"
}
"#;

#[test]
fn nix_package_post_install_makes_completions_and_man_page_with_the_controller() {
    let out = eval_package(&json!(["controller"]), "1.91.0").unwrap_or_else(|e| panic!("{e}"));
    let post_install = out["postInstall"].as_str().expect("postInstall");

    // $out as the package would have it: the controller built from this tree in bin/.
    let prefix = tempfile::tempdir().expect("temporary $out");
    std::fs::create_dir(prefix.path().join("bin")).expect("bin/");
    std::os::unix::fs::symlink(
        controller_binary(),
        prefix.path().join("bin/backup-orchestrator-ctl"),
    )
    .expect("link the controller");
    let work = tempfile::tempdir().expect("build directory");
    let mut bash = Command::new("bash");
    bash.current_dir(work.path())
        .env("out", prefix.path())
        .args(["-euo", "pipefail", "-c"])
        .arg(format!("{INSTALL_SHELL_FILES_STAND_IN}\n{post_install}"));
    let run = output_with_timeout(&mut bash, NIX_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        run.status.success(),
        "postInstall failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );

    for (file, needle) in [
        (
            "share/bash-completion/completions/backup-orchestrator-ctl.bash",
            "complete -F",
        ),
        (
            "share/fish/vendor_completions.d/backup-orchestrator-ctl.fish",
            "complete -c backup-orchestrator-ctl",
        ),
        (
            "share/zsh/site-functions/_backup-orchestrator-ctl",
            "#compdef backup-orchestrator-ctl",
        ),
        (
            "share/man/man1/backup-orchestrator-ctl.1",
            ".TH backup-orchestrator-ctl 1",
        ),
    ] {
        let text = std::fs::read_to_string(prefix.path().join(file))
            .unwrap_or_else(|e| panic!("{file} not installed: {e}"));
        assert!(text.contains(needle), "{file} lacks {needle:?}:\n{text}");
    }
}
