# Stand-ins for the NixOS options that ansible-free-deploy/module.nix sets or reads, declared with
# the types NixOS gives them (nixos/modules/security/sudo.nix, security/sudo-rs.nix,
# system/etc/etc.nix, config/system-path.nix, system/boot/systemd.nix and its unit options), so
# `lib.evalModules` type-checks the module's definitions as a real system evaluation would: a
# misspelt option is an error here (the submodules are not freeform, as in NixOS), a wrong type
# too. Only the options a definition could reach are declared; the rest of NixOS is not needed.
{ lib, ... }:

let
  inherit (lib) mkOption types;

  # nixos/modules/security/sudo.nix `extraRules`; sudo-rs.nix declares the same shape with a
  # smaller set of tags.
  sudoRules =
    tags:
    mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            users = mkOption {
              type = with types; listOf (either str int);
              default = [ ];
            };
            groups = mkOption {
              type = with types; listOf (either str int);
              default = [ ];
            };
            host = mkOption {
              type = types.str;
              default = "ALL";
            };
            runAs = mkOption {
              type = types.str;
              default = "ALL:ALL";
            };
            commands = mkOption {
              type =
                with types;
                listOf (
                  either str (submodule {
                    options = {
                      command = mkOption { type = str; };
                      options = mkOption {
                        type = listOf (enum tags);
                        default = [ ];
                      };
                    };
                  })
                );
            };
          };
        }
      );
      default = [ ];
    };

  # nixos/lib/systemd-unit-options.nix `unitOption`: what the unit renderer can print (a list
  # becomes one line per element). NixOS' own type checks nothing; this one refuses, say, an
  # attribute set, which would not render.
  unitValue = with types; oneOf [ bool int str path ];
  unitOption = with types; attrsOf (either unitValue (listOf unitValue));
  unitNames = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  commonUnitOptions = {
    description = mkOption {
      type = types.singleLineStr;
      default = "";
    };
    documentation = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    unitConfig = mkOption {
      type = unitOption;
      default = { };
    };
    wantedBy = unitNames;
    requiredBy = unitNames;
    wants = unitNames;
    requires = unitNames;
    after = unitNames;
    before = unitNames;
  };
in
{
  options = {
    security.sudo = {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      extraRules = sudoRules [
        "NOPASSWD"
        "PASSWD"
        "NOEXEC"
        "EXEC"
        "SETENV"
        "NOSETENV"
        "LOG_INPUT"
        "NOLOG_INPUT"
        "LOG_OUTPUT"
        "NOLOG_OUTPUT"
      ];
    };

    security.sudo-rs = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      extraRules = sudoRules [
        "NOPASSWD"
        "PASSWD"
        "SETENV"
        "NOSETENV"
      ];
    };

    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    environment.etc = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              enable = mkOption {
                type = types.bool;
                default = true;
              };
              target = mkOption {
                type = types.str;
                default = name;
              };
              text = mkOption {
                type = types.nullOr types.lines;
                default = null;
              };
              source = mkOption { type = types.path; };
              mode = mkOption {
                type = types.str;
                default = "symlink";
              };
            };
          }
        )
      );
      default = { };
    };

    systemd.services = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = commonUnitOptions // {
            serviceConfig = mkOption {
              type = unitOption;
              default = { };
            };
            restartIfChanged = mkOption {
              type = types.bool;
              default = true;
            };
            stopIfChanged = mkOption {
              type = types.bool;
              default = true;
            };
            startAt = mkOption {
              type = with types; either str (listOf str);
              default = [ ];
            };
            path = mkOption {
              type = with types; listOf (either package str);
              default = [ ];
            };
            environment = mkOption {
              type = with types; attrsOf (nullOr (oneOf [ str path package ]));
              default = { };
            };
            script = mkOption {
              type = types.lines;
              default = "";
            };
          };
        }
      );
      default = { };
    };

    systemd.timers = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = commonUnitOptions // {
            timerConfig = mkOption { type = unitOption; };
          };
        }
      );
      default = { };
    };

    systemd.tmpfiles.rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
  };
}
