# NixOS module: wires nixos-wsl-init's roles into a NixOS-on-WSL system.
#   native: /sbin/init is the shim, WSL starts systemd ([boot] systemd=true);
#   legacy: root's login shell starts systemd in its own PID namespace.
# Both: /etc/nixos-wsl-init.json for the executable, and the recovery entry
# /bin/nixos-wsl-recovery, a copy that runs from the WSL system distribution.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.wsl.init;
  inherit (lib) mkEnableOption mkIf mkMerge mkOption types;

  exe = "${cfg.package}/bin/nixos-wsl-init";

  wslConf = {
    # Where WSL mounts the Windows drives; the executable reads the same value
    # (automountRoot) to tell Windows' PATH entries from Linux's.
    automount.root = cfg.automountRoot;
  }
  // (
    if cfg.mode == "native" then
      {
        boot.systemd = true;
        user.default = cfg.defaultUser;
      }
    else
      {
        # Old WSL cannot start systemd: root logs in, and its shell starts it.
        boot.systemd = false;
        user.default = "root";
      }
  );

  # Exactly the keys src/config.ts reads, with the same defaults. The mode is
  # not among them: it only chooses the wiring below.
  settings = {
    inherit (cfg) defaultUser automountRoot;
    readinessTimeoutSeconds = cfg.legacy.readinessTimeout;
    activationTimeoutSeconds = cfg.activationTimeout;
  };
in
{
  options.wsl.init = {
    enable = mkEnableOption "nixos-wsl-init, the init shim and recovery toolkit for NixOS on WSL 2";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The nixos-wsl-init package whose executable plays every role.";
    };

    mode = mkOption {
      type = types.enum [
        "native"
        "legacy"
      ];
      default = "native";
      description = ''
        How systemd starts. `native`: WSL starts it (`[boot] systemd=true`), with
        the shim as /sbin/init running the activation first; needs a WSL release
        with systemd support. `legacy`: for old WSL without it; root is the WSL
        default user and its login shell (`syschdemd`) starts systemd in its own
        PID namespace, then runs the default user's shell inside it.
      '';
    };

    defaultUser = mkOption {
      # The executable refuses an empty user name.
      type = types.nonEmptyStr;
      default = "nixos";
      description = "The user whose shell WSL opens (in legacy mode, the user whose shell syschdemd runs).";
    };

    legacy.readinessTimeout = mkOption {
      type = types.ints.between 1 3600;
      default = 90;
      description = "Seconds (at most an hour) legacy mode waits for systemd to report running or degraded before it gives up.";
    };

    activationTimeout = mkOption {
      type = types.ints.between 0 3600;
      default = 120;
      description = ''
        Seconds (at most an hour) the NixOS activation may run at boot; 0 waits
        forever. At the deadline the activation is stopped, the kernel log names
        what it was stuck in, and the boot goes on.
      '';
    };

    automountRoot = mkOption {
      type = types.strMatching "/.*";
      default = "/mnt/";
      example = "/windows/";
      description = ''
        Where WSL mounts the Windows drives: written to wsl.conf's
        `[automount] root` (with the default, `C:` is /mnt/c). The executable
        reads the same value: PATH entries below it are Windows' own, and the
        user's shell gets them in WSLPATH rather than PATH.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.etc."wsl.conf".text = lib.generators.toINI { } wslConf;
      environment.etc."nixos-wsl-init.json".text = builtins.toJSON settings;

      # A copy, written by the executable itself: the system distro has no /nix to follow a link into.
      system.activationScripts.nixos-wsl-init-recovery = {
        deps = [ "binsh" ];
        text = ''
          ${exe} install-recovery /bin/nixos-wsl-recovery --stamp /var/lib/nixos-wsl-init/recovery-entry
        '';
      };
    }

    (mkIf (cfg.mode == "native") {
      # Replaced atomically: a half-written /sbin/init would leave WSL nothing to start.
      system.activationScripts.nixos-wsl-init-sbin-init = ''
        mkdir -p /sbin
        ln -sfn ${cfg.package}/bin/systemd-shim /sbin/.init.tmp
        mv -Tf /sbin/.init.tmp /sbin/init
      '';
    })

    (mkIf (cfg.mode == "legacy") {
      users.users.root.shell = "${cfg.package}/bin/syschdemd";
    })
  ]);
}
