# A stand-in for `pkgs` with just what module.nix and package.nix call, returning attribute sets
# shaped like derivations (`type`, `name`, `outPath`) and keeping their inputs readable, so the
# module evaluates without building anything or needing a store: the tests read the rendered plan
# value and the plan check's build script straight from what the module passed here.
{
  lib,
  # The rustc version the fake rustPlatform reports (package.nix refuses one below rust-version).
  rustcVersion,
  system ? "x86_64-linux",
}:

let
  fakeDerivation =
    name: attrs:
    {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/00000000000000000000000000000000-${name}";
    }
    // attrs;

  pkgs = {
    stdenv = {
      buildPlatform.canExecute = _: true;
      hostPlatform = {
        inherit system;
        isLinux = lib.hasSuffix "-linux" system;
        isDarwin = lib.hasSuffix "-darwin" system;
      };
    };

    installShellFiles = fakeDerivation "install-shell-files" { };

    rustPlatform = {
      rust.rustc.version = rustcVersion;
      # `buildArgs` keeps the arguments for the tests; `src` is left unforced (it would copy the
      # repository into the store).
      buildRustPackage =
        args:
        fakeDerivation "${args.pname}-${args.version}" {
          inherit (args) pname version meta;
          buildArgs = args;
        };
    };

    callPackage =
      fn: overrides:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) (pkgs // { inherit lib; }) // overrides);

    # Like nixpkgs' runCommand: name, environment, build script.
    runCommand = name: env: buildCommand: fakeDerivation name { inherit env buildCommand; };

    # pkgs/pkgs-lib/formats.nix: the TOML format's value type, and `generate` (here it keeps the
    # value instead of rendering it; the tests compare that value with the TOML they expect).
    formats.toml =
      { }:
      {
        type =
          with lib.types;
          let
            valueType =
              nullOr (oneOf [
                bool
                int
                float
                str
                path
                (attrsOf valueType)
                (listOf valueType)
              ])
              // {
                description = "TOML value";
              };
          in
          valueType;
        generate = name: value: fakeDerivation name { inherit value; };
      };
  };
in
pkgs
