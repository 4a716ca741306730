# The agent and the controller as one Nix package, built from this repository.
#   backup-orchestrator = pkgs.callPackage ./ansible-free-deploy/package.nix { };
{ lib, rustPlatform }:

rustPlatform.buildRustPackage {
  pname = "backup-orchestrator";
  version = (lib.importTOML ../Cargo.toml).workspace.package.version;

  src = lib.cleanSourceWith {
    src = ../.;
    filter = path: type: !(lib.hasInfix "/target" path);
  };
  cargoLock.lockFile = ../Cargo.lock;

  # The real-host tests boot systemd-nspawn containers as root; they cannot run in the Nix sandbox.
  doCheck = false;

  meta = {
    description = "Runs a host's backup units in order, with limits and a verdict, before a deployment";
    mainProgram = "backup-orchestrator";
    license = with lib.licenses; [ mit asl20 ];
    platforms = lib.platforms.linux;
  };
}
