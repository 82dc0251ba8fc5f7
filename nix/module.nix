# NixOS module: wires nixos-wsl-init's roles into a NixOS-on-WSL system.
#   native: /sbin/init is the shim, WSL starts systemd ([boot] systemd=true);
#   legacy: root's login shell starts systemd in its own PID namespace.
# Both: /etc/nixos-wsl-init.json for the executable, the recovery entry
# /bin/nixos-wsl-recovery (a copy that runs from the WSL system distribution),
# and nixos-wsl-init-bless.service, which marks a generation good once it booted.
#
# It works in two settings, told apart by whether NixOS-WSL's options are declared:
#   beside NixOS-WSL (its nixosModules.default imported too): wsl.conf is written
#     by NixOS-WSL from its `wsl.wslConf` option, which this module only sets where
#     the mode needs it; NixOS-WSL's own /sbin/init snippet (activation script
#     `shimSystemd`) is emptied, and its recovery entry (a `wsl.extraBin` item named
#     nixos-wsl-recovery) is left out of its /bin snippet (`populateBin`) and, under
#     services.envfs.enable (where NixOS-WSL turns populateBin off and fills
#     envfs's fallback /bin from the same list), out of envfs's fallback /bin.
#     (Under envfs /bin is envfs's mount once systemd is up: install-recovery
#     then writes the entry beneath it, on the disk the system distro reads.)
#     Written against NixOS-WSL eaeb18da90024448a60eb1ec7132eafa4003404e
#     (2026-07-21), and evaluated against its real modules at that commit.
#     Its `wsl.wslConf.boot.initTimeout` gets wsl.init.initTimeout (as a
#     default: a definition of the user's own wins, and an assertion says the
#     two differ). The rest of NixOS-WSL acts as it does alone:
#     - its `users` snippet (modules/systemd/native/wrap-shell.nix) makes every
#       user's login shell, root's too, a copy of its shell-wrapper in a
#       directory whose `shell` link names the real shell; this module's own
#       login-shell wrapper is therefore off there unless asked for. In legacy
#       mode root's passwd shell is that wrapper around syschdemd, which starts
#       syschdemd; from inside systemd (sudo -i, su -, runuser -l root)
#       syschdemd knows the wrapper by its `shell` link and opens bash instead.
#     - its warning that [boot] systemd is off (modules/wsl-conf.nix) is taken
#       out in legacy mode, where that is the design (`warnings` below);
#     - its wrapper waits for /run/current-system without a time limit; when an
#       activation is cut short (stopped at activationTimeout) and leaves no
#       /run/current-system, the executable links it to the booted generation,
#       so those shells start. With activationTimeout = 0 nothing bounds the
#       wait, and this module warns.
#   alone: it writes /etc/wsl.conf itself, and `nixos-wsl-init install-bin`
#     writes the /bin entries WSL calls (/bin/sh, /bin/mount, /bin/true,
#     /bin/login) at each activation, for the system being activated.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.wsl.init;
  inherit (lib)
    literalExpression
    literalMD
    mkEnableOption
    mkForce
    mkIf
    mkMerge
    mkOption
    optionalAttrs
    types
    ;

  # Decided from the declared options only, never from config, so that the
  # definitions below may depend on it without an infinite recursion. A module
  # may only define NixOS-WSL's options when they exist, hence `optionalAttrs`
  # rather than `mkIf` wherever they are set.
  besideNixosWsl = options.wsl ? wslConf;

  exe = "${cfg.package}/bin/nixos-wsl-init";
  # The login-shell wrapper: the executable under the name nixos-wsl-shell.
  shellWrapper = "${cfg.package}/bin/nixos-wsl-shell";
  wrapperCfg = cfg.shellWrapper;

  # The program a `shells` entry names: a package's shellPath (NixOS's shell
  # packages have one, e.g. "/bin/zsh"), else its main program, else bin/bash;
  # a string is the path itself.
  realShellPath =
    shell:
    if lib.isString shell then shell else "${shell}${shell.shellPath or "/bin/${shell.meta.mainProgram or "bash"}"}";

  # In legacy mode syschdemd runs the default user's login shell itself, after
  # the activation and systemd's start; it would take the wrapper for itself
  # (the same executable) and start bash instead. So that user gets the real
  # shell as login shell there; root's login shell is syschdemd (asserted).
  wrapped = name: !(cfg.mode == "legacy" && name == cfg.defaultUser);

  # Wins over a plain `users.users.NAME.shell = ...` (priority 100), which the
  # wrapper replaces by design (the real shell is listed in
  # wsl.init.shellWrapper.shells), but not over the user's mkForce (50).
  shellPriority = 90;

  withSlash = root: lib.removeSuffix "/" root + "/";

  # Alone: the whole of /etc/wsl.conf.
  ownWslConf = {
    # Where WSL mounts the Windows drives; the executable reads the same value
    # (automountRoot) to tell Windows' PATH entries from Linux's.
    automount.root = cfg.automountRoot;
  }
  // (
    # How long WSL waits for systemd; the shim reads it too, to warn in time.
    lib.recursiveUpdate { boot.initTimeout = cfg.initTimeout; } (
      if cfg.mode == "native" then
        {
          boot.systemd = true;
          user.default = cfg.defaultUser;
        }
      else
        legacyWslConf
    )
  );

  # Old WSL cannot start systemd: root logs in, and its shell starts it.
  legacyWslConf = {
    boot.systemd = false;
    user.default = "root";
  };

  # Exactly the keys src/config.ts reads, with the same defaults. The mode is
  # not among them: it only chooses the wiring below.
  settings = {
    inherit (cfg) defaultUser automountRoot bootAttempts;
    readinessTimeoutSeconds = cfg.legacy.readinessTimeout;
    activationTimeoutSeconds = cfg.activationTimeout;
    inherit (cfg.legacy) loginSession;
    # The loader on NixOS knows no libpam by name: the session opens it by its path.
    pamLibrary = "${config.security.pam.package or pkgs.pam}/lib/libpam.so.0";
  }
  # Absent means the whole start-up, as in the executable.
  // optionalAttrs (cfg.legacy.waitFor != null) { waitFor = cfg.legacy.waitFor; }
  // optionalAttrs wrapperCfg.enable {
    # User name -> the real shell the wrapper (role nixos-wsl-shell) execs.
    shells = lib.mapAttrs (_: realShellPath) wrapperCfg.shells;
  };

  # Replaced atomically: a half-written link would leave WSL nothing to start.
  linkInPlace = dir: name: target: ''
    ln -sfn ${target} ${dir}/.${name}.tmp
    mv -Tf ${dir}/.${name}.tmp ${dir}/${name}
  '';

  # Beside NixOS-WSL: its /bin snippet, rendered from its own `wsl.extraBin`,
  # without its nixos-wsl-recovery (ours is the copy install-recovery writes).
  theirBinWithoutRecovery = lib.concatMapStrings (
    entry:
    let
      target = lib.escapeShellArg "/bin/${entry.name}";
      source = lib.escapeShellArg entry.src;
    in
    if entry.copy then "cp -f ${source} ${target}\n" else "ln -sf ${source} ${target}\n"
  ) (lib.filter (entry: entry.name != "nixos-wsl-recovery") config.wsl.extraBin);

  # NixOS-WSL's warning (modules/wsl-conf.nix) whenever [boot] systemd is off.
  nixosWslSystemdWarning = "systemd is disabled in wsl.conf. This is strongly discouraged and WILL break things";
  # In legacy mode beside NixOS-WSL, [boot] systemd is off by design (old WSL
  # cannot start systemd; syschdemd does), so that warning would be wrong on
  # every rebuild.
  silencesSystemdWarning = cfg.enable && cfg.mode == "legacy" && besideNixosWsl && config.wsl.enable;

  # The lines NixOS-WSL adds to envfs's fallback /bin for its nixos-wsl-recovery,
  # rendered exactly as its modules/wsl-distro.nix renders them.
  theirEnvfsRecoveryLines = map (
    entry:
    "${if entry.copy then "cp -f" else "ln -sf"} ${lib.escapeShellArg entry.src} $out/${lib.escapeShellArg entry.name}"
  ) (lib.filter (entry: entry.name == "nixos-wsl-recovery") config.wsl.extraBin);
  dropsEnvfsRecovery = cfg.enable && besideNixosWsl && config.wsl.enable;

  tarballBuilder = pkgs.writeShellApplication {
    name = "nixos-wsl-init-tarball-builder";
    runtimeInputs = [
      pkgs.coreutils
      pkgs.e2fsprogs # chattr: the activation may leave /var/empty immutable
      pkgs.nixos-install-tools
      config.nix.package
    ];
    text = ''
      if [ $# -lt 1 ] || [ "$1" = --help ]; then
        echo "usage: nixos-wsl-init-tarball-builder OUT.wsl [more arguments for nixos-wsl-init tarball]" >&2
        echo "Installs this NixOS system into a temporary root and packs it as a WSL image." >&2
        exit 2
      fi
      if [ "$(id -u)" -ne 0 ]; then
        echo "nixos-wsl-init-tarball-builder must run as root (the image's files are owned by root): try sudo" >&2
        exit 1
      fi
      out=$1
      shift

      tmp=$(mktemp -d "''${TMPDIR:-/tmp}/nixos-wsl-init-image.XXXXXXXXXX")
      trap 'chattr -Rf -i "$tmp" 2>/dev/null || true; rm -rf --one-file-system "$tmp"' EXIT
      trap 'exit 130' INT
      trap 'exit 143' TERM
      # nixos-install wants a root that others may enter.
      chmod 0755 "$tmp"

      nixos-install --root "$tmp" --system ${config.system.build.toplevel} --no-root-passwd --no-channel-copy
      # nixos-enter (inside nixos-install) leaves an empty resolv.conf; WSL writes its own, and an image must carry none.
      rm -f "$tmp/etc/resolv.conf"
      ${exe} tarball "$tmp" "$out" --name ${lib.escapeShellArg cfg.image.name} "$@"
    '';
  };

  # Every section header of the wsl.conf NixOS will write: two writers show as a repeated one.
  wslConfText = config.environment.etc."wsl.conf".text or null;

  # Declared users: this module's own `users.users.NAME.shell` (for the login-shell
  # wrapper) makes an entry by itself, which is not a user yet.
  declaredUser =
    name:
    let
      user = config.users.users.${name} or { };
    in
    user.isNormalUser or false || user.isSystemUser or false || user.uid or null != null;
  undeclaredShellUsers = lib.filter (name: name != cfg.defaultUser && !declaredUser name) (
    lib.attrNames wrapperCfg.shells
  );
  wslConfSections = lib.filter (line: builtins.match "[[].*[]]" line != null) (
    lib.splitString "\n" (if wslConfText == null then "" else wslConfText)
  );
in
{
  # Two options of NixOS's own get an `apply` here (a declaration without type
  # or default, merged into NixOS's), to take out what NixOS-WSL adds and
  # nothing else: a definition could only add to them, and mkForce would drop
  # every other module's part. Both leave their value alone unless this module
  # is enabled beside NixOS-WSL. The module system allows one `apply` per
  # option: a second module declaring one for the same option would stop the
  # evaluation with "already declared" (nixpkgs itself declares none for these two).
  options.warnings = mkOption {
    # Legacy mode beside NixOS-WSL: its "systemd is disabled" warning, exactly that text.
    apply = warnings: if silencesSystemdWarning then lib.remove nixosWslSystemdWarning warnings else warnings;
  };
  options.services.envfs.extraFallbackPathCommands = mkOption {
    # Beside NixOS-WSL under envfs: its nixos-wsl-recovery line, exactly that line;
    # /bin/nixos-wsl-recovery is this module's (install-recovery, below).
    apply =
      text:
      if dropsEnvfsRecovery then
        lib.concatStringsSep "\n" (lib.filter (line: !lib.elem line theirEnvfsRecoveryLines) (lib.splitString "\n" text))
      else
        text;
  };

  options.wsl.init = {
    enable = mkEnableOption "nixos-wsl-init, the init shim and recovery toolkit for NixOS on WSL 2";

    package = mkOption {
      type = types.package;
      default = pkgs.nixos-wsl-init or (pkgs.callPackage ./package.nix { });
      defaultText = literalMD ''
        `pkgs.nixos-wsl-init` when an overlay provides it (this flake's
        `overlays.default` does), else the package built from this repository's
        `nix/package.nix`
      '';
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
      default = if besideNixosWsl then config.wsl.defaultUser else "nixos";
      defaultText = literalMD ''`"nixos"`; beside NixOS-WSL, `config.wsl.defaultUser`'';
      description = ''
        The user whose shell WSL opens (in legacy mode, the user whose shell
        syschdemd runs); it must be one of `users.users`. Beside NixOS-WSL it is
        NixOS-WSL's `wsl.defaultUser`: set that one.
      '';
    };

    legacy.readinessTimeout = mkOption {
      type = types.ints.between 1 3600;
      default = 90;
      description = "Seconds (at most an hour) legacy mode waits for systemd to report running or degraded before it gives up.";
    };

    legacy.waitFor = mkOption {
      type = types.nullOr (types.strMatching "[^-/[:space:]][^/[:space:]]*");
      default = null;
      example = "multi-user.target";
      description = ''
        The unit legacy mode waits for before it opens a shell, instead of the
        whole start-up (null). With a target such as `multi-user.target`, one slow
        unit that the target does not need no longer holds up every shell. Still
        bounded by `legacy.readinessTimeout`; a unit that fails opens the shell
        with a warning.
      '';
    };

    legacy.loginSession = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether each legacy-mode shell is a logind session, opened through the
        PAM service `nixos-wsl-init` (declared here, with `startSession`): then
        `loginctl` lists it, `XDG_RUNTIME_DIR` is set, and `user@UID.service`
        and `systemctl --user` work (user services, agent sockets, rootless
        podman). The session ends with the shell. Off, shells start a few
        milliseconds sooner, without a session.
      '';
    };

    activationTimeout = mkOption {
      type = types.ints.between 0 3600;
      default = 120;
      description = ''
        Seconds (at most an hour) the NixOS activation may run at boot; 0 waits
        forever. At the deadline the activation is stopped, the kernel log names
        what it was stuck in, and the boot goes on. An activation cut short
        leaves no /run/current-system: the executable then links it to the
        booted generation, so that login shells waiting for it (this module's
        wrapper, NixOS-WSL's shell-wrapper, which waits without a limit) start.
      '';
    };

    automountRoot = mkOption {
      type = types.strMatching "/.*";
      default = if besideNixosWsl then withSlash config.wsl.wslConf.automount.root else "/mnt/";
      defaultText = literalMD ''`"/mnt/"`; beside NixOS-WSL, `config.wsl.wslConf.automount.root` with a trailing `/`'';
      example = "/windows/";
      description = ''
        Where WSL mounts the Windows drives: written to wsl.conf's
        `[automount] root` (with the default, `C:` is /mnt/c). The executable
        reads the same value: PATH entries below it are Windows' own, and the
        user's shell gets them in WSLPATH rather than PATH. Beside NixOS-WSL it is
        NixOS-WSL's `wsl.wslConf.automount.root`: set that one.
      '';
    };

    bootAttempts = mkOption {
      type = types.ints.unsigned;
      default = 2;
      description = ''
        How many times the default generation may start without being marked
        good (by `nixos-wsl-init-bless.service`, once `blessTarget` is reached)
        before an older generation boots instead; 0 turns this fallback off.
        At most 100.
      '';
    };

    blessTarget = mkOption {
      type = types.strMatching "[^/[:space:]]+[.](target|service)";
      default = "multi-user.target";
      example = "graphical.target";
      description = ''
        The systemd unit whose start marks the running generation good:
        `nixos-wsl-init-bless.service` is wanted by it and ordered after it, and
        runs `nixos-wsl-init bless`.
      '';
    };

    initTimeout = mkOption {
      type = types.ints.positive;
      default = 10000;
      example = 30000;
      description = ''
        Milliseconds WSL waits at start for systemd to report running (written
        to wsl.conf's `[boot] initTimeout`; WSL's own default is 10000). The
        shim and the NixOS activation count against it: the shim reads the
        same value and warns in the kernel log when half of it has passed while
        the activation still runs. Past it WSL goes on without waiting, and the
        default user reads "Failed to start the systemd user session". Beside
        NixOS-WSL it is written through `wsl.wslConf.boot.initTimeout`.
      '';
    };

    shellWrapper = {
      enable = mkOption {
        type = types.bool;
        default = !besideNixosWsl;
        defaultText = literalMD "`true`; beside NixOS-WSL, `false` (its own shell-wrapper already wraps every user's shell)";
        description = ''
          Whether the users listed in `shellWrapper.shells` get the login-shell
          wrapper `nixos-wsl-shell` as their login shell. WSL starts a user's
          login shell directly, without PAM and maybe before the activation has
          finished; the wrapper waits for the activation (at most a little
          longer than `activationTimeout`), imports /etc/set-environment once
          (even for `wsl CMD`, whose shell reads no /etc/profile), then execs
          the user's real shell. Beside NixOS-WSL, whose shell-wrapper wraps
          every user's shell, turning this on puts this wrapper behind that one.
        '';
      };

      shells = mkOption {
        type = types.attrsOf (types.either types.package types.str);
        default = {
          ${cfg.defaultUser} = pkgs.bashInteractive;
        };
        defaultText = literalExpression "{ \${config.wsl.init.defaultUser} = pkgs.bashInteractive; }";
        example = literalExpression ''
          {
            nixos = pkgs.zsh;
            alice = "/run/current-system/sw/bin/fish";
          }
        '';
        description = ''
          User name → the user's real login shell, which the wrapper starts:
          a package (its `shellPath`, e.g. `pkgs.zsh` → bin/zsh) or an absolute
          path. Each user listed gets the wrapper as `users.users.NAME.shell`,
          which replaces a plain `users.users.NAME.shell` setting: name the
          shell here instead (a `lib.mkForce` there still wins, and bypasses
          the wrapper). A shell that needs NixOS's own set-up is enabled as
          usual (`programs.zsh.enable = true;`). In legacy mode root is not
          allowed (its login shell is syschdemd), and the default user gets its
          real shell directly, since syschdemd starts that shell itself.
        '';
      };
    };

    image.name = mkOption {
      type = types.strMatching "[A-Za-z0-9._-]+";
      default = "NixOS";
      description = ''
        The distribution name the WSL image suggests (`[oobe] defaultName` in its
        /etc/wsl-distribution.conf, used by a double-click install); this
        project's image builder (`system.build.wslInitTarballBuilder`, also
        `system.build.tarballBuilder` when NixOS-WSL is not imported) passes it
        to `nixos-wsl-init tarball --name`.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      environment.etc."nixos-wsl-init.json".text = builtins.toJSON settings;

      # A copy, written by the executable itself: the system distro has no /nix to follow a link into.
      system.activationScripts.nixos-wsl-init-recovery = {
        deps = [ "binsh" ];
        text = ''
          ${exe} install-recovery /bin/nixos-wsl-recovery --stamp /var/lib/nixos-wsl-init/recovery-entry
        '';
      };

      # Marks the running generation good, in both modes: until then every start
      # of it counts towards bootAttempts.
      systemd.services.nixos-wsl-init-bless = {
        description = "Mark this NixOS generation as one that boots (nixos-wsl-init)";
        wantedBy = [ cfg.blessTarget ];
        after = [ cfg.blessTarget ];
        # Once per boot: not again when nixos-rebuild switch starts the target's units,
        # which would bless a new generation that has never booted.
        restartIfChanged = false;
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${exe} bless";
        };
      };

      # Installs this system into a temporary root and packs it with
      # `nixos-wsl-init tarball`. Beside NixOS-WSL its own builder keeps the name
      # (a default here), and this one is also under its own name.
      system.build.tarballBuilder = lib.mkDefault tarballBuilder;
      system.build.wslInitTarballBuilder = tarballBuilder;

      assertions = [
        {
          assertion = lib.any (key: config.users.users.${key}.name == cfg.defaultUser && declaredUser key) (
            lib.attrNames config.users.users
          );
          message = ''
            wsl.init.defaultUser is "${cfg.defaultUser}", but users.users has no such user: WSL would
            open a shell for nobody. Declare it (users.users.${cfg.defaultUser}.isNormalUser = true;)
            or choose an existing one.
          '';
        }
        {
          assertion = cfg.bootAttempts <= 100;
          message = ''
            wsl.init.bootAttempts is ${toString cfg.bootAttempts}: the default generation would have to
            fail that many starts in a row before an older one boots. Use a small number (the default
            is 2), or 0 to turn falling back off.
          '';
        }
      ];
    }

    (mkIf (cfg.mode == "native") {
      # Replaced atomically: a half-written /sbin/init would leave WSL nothing to start.
      system.activationScripts.nixos-wsl-init-sbin-init = {
        # Beside NixOS-WSL, after its `createSbin`, which may replace /sbin by a link to /bin.
        deps = lib.optional (besideNixosWsl && config.wsl.enable) "createSbin";
        text = ''
          mkdir -p /sbin
        ''
        + linkInPlace "/sbin" "init" "${cfg.package}/bin/systemd-shim";
      };
    })

    (mkIf (cfg.mode == "legacy") {
      users.users.root.shell = "${cfg.package}/bin/syschdemd";
    })

    # What legacy mode opens around each shell (shim/legacy/loginSession.ts).
    (mkIf (cfg.mode == "legacy" && cfg.legacy.loginSession) {
      security.pam.services.nixos-wsl-init.startSession = true;
    })

    (mkIf wrapperCfg.enable {
      users.users = lib.mapAttrs (name: shell: {
        # NixOS's own option takes a shell package (with shellPath) or a path.
        shell = lib.mkOverride shellPriority (
          if wrapped name then shellWrapper
          else if shell ? shellPath then shell
          else realShellPath shell
        );
      }) wrapperCfg.shells;

      environment.shells = [ shellWrapper ];

      assertions = [
        # The default user has an assertion of its own, above.
        {
          assertion = undeclaredShellUsers == [ ];
          message = ''
            wsl.init.shellWrapper.shells lists ${lib.concatStringsSep ", " undeclaredShellUsers},
            but users.users declares no such user (isNormalUser, isSystemUser or uid): declare it, or remove it from shells.
          '';
        }
        {
          assertion = cfg.mode != "legacy" || !(wrapperCfg.shells ? root);
          message = ''
            wsl.init.shellWrapper.shells lists root, but in legacy mode root's login shell is syschdemd,
            which starts systemd: remove root from it.
          '';
        }
        {
          assertion = lib.all (shell: !lib.isString shell || lib.hasPrefix "/" shell) (lib.attrValues wrapperCfg.shells);
          message = ''
            wsl.init.shellWrapper.shells has a shell that is not an absolute path
            (${lib.concatStringsSep ", " (lib.filter (shell: !lib.hasPrefix "/" shell) (lib.filter lib.isString (lib.attrValues wrapperCfg.shells)))}):
            name a package (pkgs.zsh) or a full path ("/run/current-system/sw/bin/zsh").
          '';
        }
      ];
    })

    (optionalAttrs (!besideNixosWsl) {
      environment.etc."wsl.conf".text = lib.generators.toINI { } ownWslConf;

      # /bin/sh, /bin/mount, /bin/true and /bin/login, each replaced atomically and
      # pointing into the system being activated ($systemConfig, set by NixOS's
      # activation script). After NixOS's `binsh`, so that its /bin/sh link is
      # replaced by ours, which finds systemctl and grep with WSL's bare PATH.
      system.activationScripts.nixos-wsl-init-bin = {
        deps = [ "binsh" ];
        text = ''
          ${exe} install-bin --system "$systemConfig"
        '';
      };

      # What install-bin links to: bash, mount, true and login in the system's sw/bin.
      environment.systemPackages = [
        pkgs.bashInteractive
        pkgs.coreutils
        pkgs.util-linux
        pkgs.shadow
      ];

      assertions = [
        {
          assertion = wslConfText == lib.generators.toINI { } ownWslConf;
          message = ''
            /etc/wsl.conf is written by wsl.init, and something else adds to it
            (environment.etc."wsl.conf"): set its values through wsl.init's options instead.
          '';
        }
      ];
    })

    (optionalAttrs besideNixosWsl {
      # Only what the mode needs; NixOS-WSL renders the one /etc/wsl.conf.
      wsl.wslConf = mkMerge [
        (mkIf (cfg.mode == "legacy") (lib.mapAttrsRecursive (_: mkForce) legacyWslConf))
        # NixOS-WSL's option is typed (null or milliseconds, default null: WSL's 10000).
        { boot.initTimeout = lib.mkDefault cfg.initTimeout; }
      ];

      system.activationScripts = {
        # NixOS-WSL's /sbin/init snippet, emptied: /sbin/init has one writer, above.
        shimSystemd = mkIf config.wsl.enable (mkForce {
          deps = [ "createSbin" ];
          text = "";
        });
        populateBin = mkIf (config.wsl.enable && config.wsl.populateBin) (mkForce {
          deps = [ ];
          text = ''
            echo "setting up /bin..."
          ''
          + theirBinWithoutRecovery;
        });
      };

      # NixOS-WSL's shell-wrapper waits for /run/current-system without a limit;
      # the deadline is what makes the shim link it when an activation hangs.
      warnings = lib.optional (cfg.activationTimeout == 0) ''
        wsl.init.activationTimeout is 0 (no deadline) beside NixOS-WSL, whose shell-wrapper waits for
        /run/current-system without a limit: an activation that hangs leaves every user whose shell is
        under /run/current-system/sw/bin/ without a shell, until it ends. Set a deadline (the default is
        120): at it, nixos-wsl-init stops the activation, links /run/current-system to the booted
        generation, and those shells start.'';

      assertions = [
        {
          assertion = config.wsl.enable;
          message = ''
            wsl.init.enable is set beside NixOS-WSL, whose wsl.enable is false: nothing would write
            /etc/wsl.conf. Set wsl.enable = true as well.
          '';
        }
        {
          assertion = lib.unique wslConfSections == wslConfSections;
          message = ''
            /etc/wsl.conf has more than one writer (sections repeat: ${lib.concatStringsSep " " wslConfSections}):
            set its values through NixOS-WSL's wsl.wslConf only, not environment.etc."wsl.conf".
          '';
        }
        {
          assertion = cfg.defaultUser == config.wsl.defaultUser;
          message = ''
            wsl.init.defaultUser ("${cfg.defaultUser}") differs from NixOS-WSL's wsl.defaultUser
            ("${config.wsl.defaultUser}"), which names the user WSL opens: set wsl.defaultUser only.
          '';
        }
        {
          assertion = withSlash cfg.automountRoot == withSlash config.wsl.wslConf.automount.root;
          message = ''
            wsl.init.automountRoot ("${cfg.automountRoot}") differs from NixOS-WSL's
            wsl.wslConf.automount.root ("${config.wsl.wslConf.automount.root}"), which is where WSL mounts
            the drives: set wsl.wslConf.automount.root only.
          '';
        }
        {
          assertion = config.wsl.wslConf.boot.initTimeout == cfg.initTimeout;
          message = ''
            wsl.init.initTimeout (${toString cfg.initTimeout}) differs from NixOS-WSL's
            wsl.wslConf.boot.initTimeout (${
              if config.wsl.wslConf.boot.initTimeout == null then "null" else toString config.wsl.wslConf.boot.initTimeout
            }), which WSL reads: set wsl.init.initTimeout only.
          '';
        }
        {
          assertion = cfg.mode != "native" || config.wsl.wslConf.boot.systemd;
          message = ''
            wsl.init.mode is "native", but wsl.wslConf.boot.systemd is false: WSL would not start
            /sbin/init. Leave wsl.wslConf.boot.systemd alone, or use wsl.init.mode = "legacy".
          '';
        }
      ];
    })
  ]);
}
