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
#     (build-tarball.nix);
#   - and what its modules do that this module must fit:
#     * the `users` activation snippet re-rendered with every user's login
#       shell, root's too, replaced by a copy of its shell-wrapper in a store
#       directory whose `shell` link names the real shell
#       (systemd/native/wrap-shell.nix, with nixpkgs' utils.toShellPath);
#     * the warning on every rebuild when [boot] systemd is off (wsl-conf.nix);
#     * under services.envfs.enable: populateBin off, and envfs's fallback /bin
#       filled from the same wsl.extraBin, the recovery entry included
#       (wsl-distro.nix);
#     * the wrapper's wait: a shell under /run/current-system/sw/bin/ waits for
#       /run/current-system with no time limit (utils/src/shell_wrapper.rs),
#       exposed here as system.build.nixosWslShellWrappers.<user>.
# The store paths and the snippet's wording are this stand-in's own.
{ config, lib, ... }:

let
  inherit (lib) mkEnableOption mkIf mkOption types;
  cfg = config.wsl;

  store = name: "/nix/store/1111111111111111111111111111111${name}";

  # nixpkgs' utils.toShellPath: a shell package runs from the system's sw/bin; a
  # user without a shell gets users.users.<name>.shell's default, pkgs.shadow's nologin.
  toShellPath =
    shell:
    if shell == null then "/run/current-system/sw/bin/nologin"
    else if shell ? shellPath then "/run/current-system/sw${shell.shellPath}"
    else toString shell;

  # wrap-shell.nix's wrapShell: a directory with the wrapper and a `shell` link to the real shell.
  wrapShell = shellPath: rec {
    dir = store "x-wrapped-${lib.last (lib.splitString "/" shellPath)}";
    wrapper = "${dir}/wrapper";
    shell = shellPath;
    # shell_wrapper.rs: it waits, unbounded, for /run/current-system when the shell lives in it.
    waitsForCurrentSystem = lib.hasPrefix "/run/current-system/sw/bin/" shellPath;
  };
  wrappedShells = lib.mapAttrs (_: user: wrapShell (toShellPath user.shell)) config.users.users;

  # wsl-distro.nix renders populateBin and envfs's fallback /bin alike from extraBin.
  renderBin =
    target: entry:
    "${if entry.copy then "cp -f" else "ln -sf"} ${lib.escapeShellArg entry.src} ${target entry.name}";
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

      warnings = lib.optional (!cfg.wslConf.boot.systemd) "systemd is disabled in wsl.conf. This is strongly discouraged and WILL break things";

      # envfs serves /bin: NixOS-WSL's own snippet is off, and its entries go to envfs's fallback.
      wsl.populateBin = mkIf config.services.envfs.enable false;
      services.envfs.extraFallbackPathCommands = lib.concatStringsSep "\n" (
        map (renderBin (name: "$out/${lib.escapeShellArg name}")) cfg.extraBin
      );

      system.build.nixosWslShellWrappers = wrappedShells;

      system.activationScripts = {
        # NixOS's `users` snippet, with every login shell replaced by its wrapper.
        users = {
          deps = [ ];
          text = lib.concatStrings (
            lib.mapAttrsToList (name: user: "update-users-groups ${user.name} shell=${wrappedShells.${name}.wrapper}\n") config.users.users
          );
        };
        populateBin = mkIf cfg.populateBin {
          deps = [ ];
          text = lib.concatMapStrings (entry: "${renderBin (name: lib.escapeShellArg "/bin/${name}") entry}\n") cfg.extraBin;
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
