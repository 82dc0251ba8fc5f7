# The few NixOS options the module (and the NixOS-WSL stand-in) read or set,
# declared as NixOS declares them, trimmed to what matters here, so that
# nixpkgs' lib is all the evaluation tests need.
{ lib, ... }:

let
  inherit (lib) mkOption types;
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };

    environment.etc = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.text = mkOption {
            type = types.nullOr types.lines;
            default = null;
          };
        }
      );
      default = { };
    };

    environment.shells = mkOption {
      type = types.listOf (types.either types.package types.path);
      default = [ ];
    };

    security.pam.services = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.startSession = mkOption {
            type = types.bool;
            default = false;
          };
        }
      );
      default = { };
    };

    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };

    system.activationScripts = mkOption {
      type = types.attrsOf (
        types.either types.str (
          types.submodule {
            options.text = mkOption { type = types.lines; };
            options.deps = mkOption {
              type = types.listOf types.str;
              default = [ ];
            };
          }
        )
      );
      default = { };
    };

    system.build = mkOption {
      type = types.submoduleWith {
        modules = [ { freeformType = types.lazyAttrsOf (types.uniq types.unspecified); } ];
      };
      default = { };
    };

    users.users = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options.name = mkOption {
              type = types.passwdEntry types.str;
              default = name;
            };
            options.isNormalUser = mkOption {
              type = types.bool;
              default = false;
            };
            options.isSystemUser = mkOption {
              type = types.bool;
              default = false;
            };
            options.extraGroups = mkOption {
              type = types.listOf types.str;
              default = [ ];
            };
            options.uid = mkOption {
              type = types.nullOr types.int;
              default = null;
            };
            options.shell = mkOption {
              type = types.nullOr (types.either types.package types.path);
              default = null;
            };
          }
        )
      );
      default = { };
    };

    systemd.services = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.description = mkOption {
            type = types.str;
            default = "";
          };
          options.wantedBy = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          options.after = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          options.restartIfChanged = mkOption {
            type = types.bool;
            default = true;
          };
          options.serviceConfig = mkOption {
            type = types.attrsOf types.unspecified;
            default = { };
          };
        }
      );
      default = { };
    };

    # nixpkgs' envfs module (nixos/modules/tasks/filesystems/envfs.nix): its
    # fallback /bin is a store directory built from these commands.
    services.envfs.enable = mkOption {
      type = types.bool;
      default = false;
    };
    services.envfs.extraFallbackPathCommands = mkOption {
      type = types.lines;
      default = "";
    };

    nix.package = mkOption {
      type = types.package;
      default = "/nix/store/0000000000000000000000000000000n-nix-2.30.0";
    };

    networking.hostName = mkOption {
      type = types.str;
      default = "nixos";
    };

    # Set by the templates (nix/templates/*/configuration.nix).
    boot.isContainer = mkOption {
      type = types.bool;
      default = false;
    };
    system.stateVersion = mkOption {
      type = types.str;
    };
  };
}
