# A stand-in for NixOS-WSL (github.com/nix-community/NixOS-WSL), as read at
# commit eaeb18da90024448a60eb1ec7132eafa4003404e (2026-07-21):
#   - its options that nixos-wsl-init's module reads or sets, declared with the
#     names, types and defaults of modules/wsl-distro.nix and modules/wsl-conf.nix
#     (wsl.wslConf's freeform type is what nixpkgs' `pkgs.formats.ini { }` gives,
#     spelled with lib's types, since pkgs is not at hand);
#   - the mechanisms this module has to work with, written here from their behaviour:
#     wsl.conf rendered from wsl.wslConf (wsl-conf.nix); /bin filled from
#     wsl.extraBin by the activation script `populateBin`, /sbin made a link to
#     /bin by `createSbin`, and /sbin/init linked by `shimSystemd` (wsl-distro.nix,
#     systemd/native/default.nix); the recovery entry as a copied wsl.extraBin item
#     (recovery.nix, unconditional); its own system.build.tarballBuilder
#     (build-tarball.nix).
{ config, lib, ... }:

let
  inherit (lib) mkEnableOption mkIf mkOption types;
  cfg = config.wsl;

  store = name: "/nix/store/1111111111111111111111111111111${name}";
  iniAtom = types.nullOr (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
    ]
  );
in
{
  options.wsl = {
    enable = mkEnableOption "support for running NixOS as a WSL distribution";

    defaultUser = mkOption {
      type = types.str;
      default = "nixos";
      description = "The name of the default user";
    };

    populateBin = mkOption {
      type = types.bool;
      default = true;
      internal = true;
      description = "Dangerous! Things might break. Use with caution! Do not populate /bin.";
    };

    extraBin = mkOption {
      type = types.listOf (
        types.submodule (
          { config, ... }:
          {
            options = {
              src = mkOption {
                type = types.str;
                description = "Path of the file that should be added";
              };
              name = mkOption {
                type = types.str;
                description = "The name the file should be created as in /bin";
                default = baseNameOf config.src;
                defaultText = lib.literalExpression "baseNameOf src";
              };
              copy = mkOption {
                type = types.bool;
                default = false;
                description = "Whether or not the file should be copied instead of symlinked";
              };
            };
          }
        )
      );
      description = "Additional files to be added to /bin";
    };

    wslConf = mkOption {
      description = "Configuration values for /etc/wsl.conf.";
      default = { };
      type = types.submodule {
        freeformType = types.attrsOf (types.attrsOf iniAtom);
        options = {
          automount = {
            enabled = mkOption {
              type = types.bool;
              default = true;
              description = "Automatically mount windows drives";
            };
            ldconfig = mkOption {
              type = types.bool;
              default = false;
              description = "Whether to modify /etc/ld.so.conf.d/ld.wsl.conf";
            };
            mountFsTab = mkOption {
              type = types.bool;
              default = false;
              description = "Mount entries from /etc/fstab through WSL.";
            };
            root = mkOption {
              type = types.strMatching "^/(.*[^/])?$";
              default = "/mnt";
              description = "The directory under which to mount windows drives.";
            };
            options = mkOption {
              type = types.commas;
              default = "metadata,uid=1000,gid=100";
              description = "Comma-separated list of mount options that should be used for mounting windows drives.";
            };
          };
          boot = {
            command = mkOption {
              type = types.str;
              default = "";
              description = "A command to run when the distro is started.";
            };
            systemd = mkOption {
              type = types.bool;
              default = true;
              description = "Use systemd as init.";
            };
            initTimeout = mkOption {
              type = types.nullOr types.ints.unsigned;
              default = null;
              description = "Time in milliseconds that WSL waits for the init process to become ready.";
            };
          };
          interop = {
            enabled = mkOption {
              type = types.bool;
              default = true;
              description = "Support running Windows binaries from the linux shell.";
            };
            appendWindowsPath = mkOption {
              type = types.bool;
              default = true;
              description = "Include the Windows PATH in the PATH variable";
            };
          };
          network = {
            generateHosts = mkOption {
              type = types.bool;
              default = true;
              description = "Generate /etc/hosts through WSL";
            };
            generateResolvConf = mkOption {
              type = types.bool;
              default = true;
              description = "Generate /etc/resolv.conf through WSL";
            };
            hostname = mkOption {
              type = types.str;
              default = config.networking.hostName;
              defaultText = "config.networking.hostName";
              description = "The hostname of the WSL instance";
            };
          };
          user = {
            default = mkOption {
              type = types.str;
              default = "root";
              description = "Which user to start commands in this WSL distro as";
            };
          };
        };
      };
    };
  };

  config = lib.mkMerge [
    # recovery.nix adds its entry whether or not wsl.enable is set.
    {
      wsl.extraBin = [
        {
          src = "${store "r-nixos-wsl-recovery"}/bin/nixos-wsl-recovery";
          copy = true;
        }
      ];
    }

    (mkIf cfg.enable {
      environment.etc."wsl.conf".text = lib.generators.toINI { } (
        lib.filterAttrsRecursive (_: value: value != null && value != "") cfg.wslConf
      );

      wsl.wslConf = {
        user.default = config.users.users.${cfg.defaultUser}.name;
        boot.systemd = true;
      };

      users.users.${cfg.defaultUser}.isNormalUser = true;

      wsl.extraBin = [
        {
          src = "/init";
          name = "wslpath";
        }
        {
          src = "${store "s-wrapped-sh"}/wrapper";
          name = "sh";
        }
        { src = "${store "u-util-linux"}/bin/mount"; }
        { src = "${store "b-bash-interactive"}/bin/bash"; }
        { src = "${store "l-shadow"}/bin/login"; }
      ];

      system.activationScripts = {
        populateBin = mkIf cfg.populateBin {
          deps = [ ];
          text = lib.concatMapStrings (
            entry: "${if entry.copy then "cp -f" else "ln -sf"} ${entry.src} /bin/${entry.name}\n"
          ) cfg.extraBin;
        };
        createSbin = {
          deps = lib.optional cfg.populateBin "populateBin";
          text = "[ -L /sbin ] || { rm -rf /sbin; ln -s /bin /sbin; }\n";
        };
        shimSystemd = {
          deps = [ "createSbin" ];
          text = "ln -sf ${store "w-nixos-wsl-utils"}/bin/systemd-shim /sbin/init\n";
        };
      };

      system.build.tarballBuilder = {
        name = "nixos-wsl-tarball-builder";
      };
    })
  ];
}
