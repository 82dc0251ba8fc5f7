# Evaluation tests of the NixOS module with nixpkgs' real module system, in its
# two settings: alone (a plain NixOS configuration) and beside NixOS-WSL. Only
# the few NixOS options involved are declared (nixos-stand-in.nix), and
# NixOS-WSL's as its source declares them (nixos-wsl-stand-in.nix, with the
# commit read), so nixpkgs' lib is all it needs:
#   nix-instantiate --eval --strict --json nix/tests/module-tests.nix --arg lib 'import <nixpkgs/lib>' -A failures
# `failures` is [] when every test passes; `badMode` and `badReadinessTimeout`
# must fail to evaluate, with a type error.
{ lib }:

let
  # Look like store paths, which is all types.package asks of a string.
  store = name: "/nix/store/0000000000000000000000000000000${name}";
  package = store "a-nixos-wsl-init-0.1.0";
  toplevel = store "t-nixos-system-wsl-26.11";

  derivation' = name: {
    type = "derivation";
    outPath = store name;
    inherit name;
  };
  shellPackage = name: shellPath: derivation' name // { inherit shellPath; };

  # The few packages the module names, and writeShellApplication keeping what
  # it was given, so that the script's text can be read back.
  pkgs = {
    # Packages as derivations: types.package would look a bare store path up in the store.
    coreutils = derivation' "c-coreutils-9.7";
    util-linux = derivation' "u-util-linux-2.41";
    shadow = derivation' "s-shadow-4.17";
    e2fsprogs = store "e-e2fsprogs-1.47";
    nixos-install-tools = store "i-nixos-install-tools";
    pam = derivation' "p-linux-pam-1.7";
    # Shell packages carry their shellPath, as NixOS's do.
    bashInteractive = shellPackage "b-bash-interactive-5.3" "/bin/bash";
    zsh = shellPackage "z-zsh-5.9" "/bin/zsh";
    writeShellApplication =
      {
        name,
        text,
        runtimeInputs ? [ ],
      }:
      {
        type = "derivation";
        outPath = store "w-${name}";
        inherit name text runtimeInputs;
      };
  };

  eval =
    modules: settings:
    lib.evalModules {
      modules = [
        ./nixos-stand-in.nix
        ../module.nix
        {
          _module.args.pkgs = pkgs;
          system.build.toplevel = toplevel;
          wsl.init = settings;
        }
      ]
      ++ modules;
    };

  # A plain NixOS configuration with the default user declared.
  evalAlone = eval [ { users.users.nixos.isNormalUser = true; } ];
  # NixOS-WSL imported too, and on (it declares the default user).
  evalBeside = eval [
    ./nixos-wsl-stand-in.nix
    { wsl.enable = true; }
  ];

  on = settings: { enable = true; inherit package; } // settings;

  native = (evalAlone (on { })).config;
  legacyAlice = (eval [ { users.users.alice.isNormalUser = true; } ] (on {
    mode = "legacy";
    defaultUser = "alice";
    legacy.readinessTimeout = 30;
    legacy.waitFor = "multi-user.target";
    activationTimeout = 0;
    automountRoot = "/windows/";
    bootAttempts = 0;
  })).config;
  legacyWithoutSession = (evalAlone (on { mode = "legacy"; legacy.loginSession = false; })).config;
  disabled = (eval [ ] { }).config;

  besideNative = (evalBeside (on { })).config;
  besideLegacy = (evalBeside (on { mode = "legacy"; })).config;
  # NixOS-WSL on, this module imported but off: NixOS-WSL as it is.
  besideDisabled = (evalBeside { }).config;
  # envfs serves /bin (NixOS-WSL turns its populateBin off and fills envfs's fallback /bin).
  evalBesideEnvfs = eval [
    ./nixos-wsl-stand-in.nix
    {
      wsl.enable = true;
      services.envfs.enable = true;
    }
  ];
  envfsNative = (evalBesideEnvfs (on { })).config;
  envfsLegacy = (evalBesideEnvfs (on { mode = "legacy"; })).config;
  envfsDisabled = (evalBesideEnvfs { }).config;
  besideNoDeadline = (evalBeside (on { activationTimeout = 0; })).config;
  nixosWslSystemdWarning = "systemd is disabled in wsl.conf. This is strongly discouraged and WILL break things";

  settingsOf = config: builtins.fromJSON config.environment.etc."nixos-wsl-init.json".text;

  # Whether the module refuses these settings (the type check throws).
  rejects =
    settings:
    let
      config = (evalAlone (on settings)).config;
    in
    !(builtins.tryEval (builtins.deepSeq [
      (settingsOf config)
      config.systemd.services.nixos-wsl-init-bless
      config.system.build.tarballBuilder.text
      config.environment.etc."wsl.conf".text
    ] true)).success;

  activation = config: name: config.system.activationScripts.${name}.text or config.system.activationScripts.${name};

  # The activation snippets whose text writes /sbin/init, by name.
  sbinInitWriters =
    config:
    builtins.attrNames (lib.filterAttrs (name: _: lib.hasInfix "/sbin/init" (activation config name)) config.system.activationScripts);

  failedAssertions = config: map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  # The first line of each failed assertion, enough to tell them apart.
  failedFirstLines = config: map (message: builtins.head (lib.splitString "\n" message)) (failedAssertions config);

  wslConfLines = config: lib.splitString "\n" config.environment.etc."wsl.conf".text;
  sectionsOf = config: builtins.filter (line: lib.hasPrefix "[" line) (wslConfLines config);

  recoveryInstall = "${package}/bin/nixos-wsl-init install-recovery /bin/nixos-wsl-recovery --stamp /var/lib/nixos-wsl-init/recovery-entry";

  # What the NixOS manual renders of each option.
  documentedIn =
    evaluation: builtins.filter (option: lib.hasPrefix "wsl.init." option.name) (lib.optionAttrSetToDocList evaluation.options);

  optionNames = [
    "wsl.init.activationTimeout"
    "wsl.init.automountRoot"
    "wsl.init.blessTarget"
    "wsl.init.bootAttempts"
    "wsl.init.defaultUser"
    "wsl.init.enable"
    "wsl.init.image.name"
    "wsl.init.initTimeout"
    "wsl.init.legacy.loginSession"
    "wsl.init.legacy.readinessTimeout"
    "wsl.init.legacy.waitFor"
    "wsl.init.mode"
    "wsl.init.package"
    "wsl.init.shellWrapper.enable"
    "wsl.init.shellWrapper.shells"
  ];

  wrapper = "${package}/bin/nixos-wsl-shell";
  bash = "${pkgs.bashInteractive}/bin/bash";
  zsh = "${pkgs.zsh}/bin/zsh";
  # The wsl.conf lines that are not initTimeout's.
  withoutInitTimeout = text: lib.concatStringsSep "\n" (builtins.filter (line: !lib.hasPrefix "initTimeout=" line) (lib.splitString "\n" text));
in
{
  failures = lib.runTests {
    testDefaults = {
      expr =
        let
          options = (eval [ ] { }).options.wsl.init;
        in
        {
          enable = options.enable.value;
          mode = options.mode.value;
          defaultUser = options.defaultUser.value;
          readinessTimeout = options.legacy.readinessTimeout.value;
          activationTimeout = options.activationTimeout.value;
          automountRoot = options.automountRoot.value;
          bootAttempts = options.bootAttempts.value;
          blessTarget = options.blessTarget.value;
          imageName = options.image.name.value;
          initTimeout = options.initTimeout.value;
          shellWrapper = options.shellWrapper.enable.value;
          shells = options.shellWrapper.shells.value;
        };
      expected = {
        enable = false;
        mode = "native";
        defaultUser = "nixos";
        readinessTimeout = 90;
        activationTimeout = 120;
        automountRoot = "/mnt/";
        bootAttempts = 2;
        blessTarget = "multi-user.target";
        imageName = "NixOS";
        initTimeout = 10000;
        shellWrapper = true;
        shells.nixos = pkgs.bashInteractive;
      };
    };

    testDisabledChangesNothing = {
      expr = {
        inherit (disabled.environment) etc;
        inherit (disabled.system) activationScripts build;
        inherit (disabled.users) users;
        inherit (disabled.systemd) services;
        inherit (disabled) assertions;
      };
      expected = {
        etc = { };
        activationScripts = { };
        build = { inherit toplevel; };
        users = { };
        services = { };
        assertions = [ ];
      };
    };

    # ---- alone: a plain NixOS configuration ----

    testNativeWslConf = {
      expr = native.environment.etc."wsl.conf".text;
      expected = "[automount]\nroot=/mnt/\n\n[boot]\ninitTimeout=10000\nsystemd=true\n\n[user]\ndefault=nixos\n";
    };

    testNativeSettings = {
      expr = settingsOf native;
      # Exactly the keys and defaults of src/config.ts; no mode.
      expected = {
        defaultUser = "nixos";
        readinessTimeoutSeconds = 90;
        activationTimeoutSeconds = 120;
        automountRoot = "/mnt/";
        bootAttempts = 2;
        loginSession = true;
        pamLibrary = "${store "p-linux-pam-1.7"}/lib/libpam.so.0";
        shells.nixos = bash;
      };
    };

    testNativeLinksSbinInit = {
      expr = {
        inherit (native.system.activationScripts.nixos-wsl-init-sbin-init) deps text;
        writers = sbinInitWriters native;
      };
      expected = {
        deps = [ ];
        text = ''
          mkdir -p /sbin
          ln -sfn ${package}/bin/systemd-shim /sbin/.init.tmp
          mv -Tf /sbin/.init.tmp /sbin/init
        '';
        writers = [ "nixos-wsl-init-sbin-init" ];
      };
    };

    # install-bin writes /bin/sh, /bin/mount, /bin/true and /bin/login for the system being
    # activated ($systemConfig in NixOS's activation script), after NixOS's own /bin/sh link;
    # the system's sw/bin holds what they point to.
    testAloneInstallsWhatWslRunsFromBin = {
      expr = map (config: {
        inherit (config.system.activationScripts.nixos-wsl-init-bin) deps text;
        binWriters = builtins.attrNames (
          lib.filterAttrs (name: _: (lib.hasInfix " /bin/" (activation config name) || lib.hasInfix "install-bin" (activation config name)) && !lib.hasInfix "nixos-wsl-recovery" (activation config name)) config.system.activationScripts
        );
        systemPackages = config.environment.systemPackages;
      }) [ native legacyAlice ];
      expected = lib.replicate 2 {
        deps = [ "binsh" ];
        text = ''
          ${package}/bin/nixos-wsl-init install-bin --system "$systemConfig"
        '';
        binWriters = [ "nixos-wsl-init-bin" ];
        systemPackages = [ pkgs.bashInteractive pkgs.coreutils pkgs.util-linux pkgs.shadow ];
      };
    };

    testNativeLeavesRootShell = {
      expr = native.users.users ? root;
      expected = false;
    };

    # ---- the login-shell wrapper ----

    # The default user's login shell is the wrapper; the JSON names the real shell.
    testWrapperForTheDefaultUser = {
      expr = {
        shell = native.users.users.nixos.shell;
        shells = (settingsOf native).shells;
        environmentShells = native.environment.shells;
      };
      expected = {
        shell = wrapper;
        shells.nixos = bash;
        environmentShells = [ wrapper ];
      };
    };

    # A package is started by its shellPath, a string taken as the path; every listed user is wrapped.
    testWrapperShellsListed = {
      expr =
        let
          config = (eval [
            {
              users.users.nixos.isNormalUser = true;
              users.users.alice.isNormalUser = true;
              users.users.root.uid = 0;
            }
          ] (on {
            shellWrapper.shells = {
              nixos = pkgs.zsh;
              alice = "/run/current-system/sw/bin/fish";
              root = pkgs.bashInteractive;
            };
          })).config;
        in
        {
          passwd = lib.mapAttrs (_: user: user.shell) config.users.users;
          inherit ((settingsOf config)) shells;
          failed = failedAssertions config;
        };
      expected = {
        passwd = {
          nixos = wrapper;
          alice = wrapper;
          root = wrapper;
        };
        shells = {
          nixos = zsh;
          alice = "/run/current-system/sw/bin/fish";
          root = bash;
        };
        failed = [ ];
      };
    };

    # A package without shellPath is started by its main program.
    testWrapperShellWithoutShellPath = {
      expr = (settingsOf (evalAlone (on {
        shellWrapper.shells.nixos = derivation' "n-nushell-0.105" // { meta.mainProgram = "nu"; };
      })).config).shells;
      expected.nixos = "${store "n-nushell-0.105"}/bin/nu";
    };

    # Precedence: the wrapper replaces a plain users.users.NAME.shell (the real shell is named in
    # shells), and a mkForce there wins over the wrapper.
    testWrapperPrecedence = {
      expr = map (shell: (eval [
        {
          users.users.nixos = {
            isNormalUser = true;
            inherit shell;
          };
        }
      ] (on { })).config.users.users.nixos.shell) [ pkgs.zsh (lib.mkForce pkgs.zsh) (lib.mkDefault pkgs.zsh) ];
      expected = [ wrapper pkgs.zsh wrapper ];
    };

    testWrapperOff = {
      expr =
        let
          config = (evalAlone (on { shellWrapper.enable = false; })).config;
        in
        {
          users = config.users.users;
          settings = settingsOf config;
          shells = config.environment.shells;
        };
      expected = {
        users.nixos = {
          name = "nixos";
          isNormalUser = true;
          isSystemUser = false;
          extraGroups = [ ];
          uid = null;
          shell = null;
        };
        settings = {
          defaultUser = "nixos";
          readinessTimeoutSeconds = 90;
          activationTimeoutSeconds = 120;
          automountRoot = "/mnt/";
          bootAttempts = 2;
          loginSession = true;
          pamLibrary = "${store "p-linux-pam-1.7"}/lib/libpam.so.0";
        };
        shells = [ ];
      };
    };

    # Legacy: root keeps syschdemd; the default user's shell is started by syschdemd, so it is the
    # real shell; other users listed get the wrapper.
    testWrapperInLegacyMode = {
      expr =
        let
          config = (eval [
            {
              users.users.alice.isNormalUser = true;
              users.users.bob.isNormalUser = true;
            }
          ] (on {
            mode = "legacy";
            defaultUser = "alice";
            shellWrapper.shells = {
              alice = pkgs.zsh;
              bob = pkgs.zsh;
            };
          })).config;
        in
        {
          passwd = lib.mapAttrs (_: user: user.shell) config.users.users;
          failed = failedAssertions config;
        };
      expected = {
        passwd = {
          root = "${package}/bin/syschdemd";
          alice = pkgs.zsh;
          bob = wrapper;
        };
        failed = [ ];
      };
    };

    # Beside NixOS-WSL its shell-wrapper already wraps every user's shell: off unless asked for.
    testWrapperBesideNixosWsl = {
      expr = {
        off = {
          shell = besideNative.users.users.nixos.shell;
          hasShells = settingsOf besideNative ? shells;
          shells = besideNative.environment.shells;
        };
        on =
          let
            config = (evalBeside (on { shellWrapper.enable = true; })).config;
          in
          {
            shell = config.users.users.nixos.shell;
            inherit ((settingsOf config)) shells;
            failed = failedAssertions config;
          };
      };
      expected = {
        off = {
          shell = null;
          hasShells = false;
          shells = [ ];
        };
        on = {
          shell = wrapper;
          shells.nixos = bash;
          failed = [ ];
        };
      };
    };

    testWrapperAssertions = {
      expr = map failedFirstLines [
        (evalAlone (on { shellWrapper.shells.bob = pkgs.zsh; })).config
        (eval [ { users.users.root.uid = 0; users.users.alice.isNormalUser = true; } ] (on {
          mode = "legacy";
          defaultUser = "alice";
          shellWrapper.shells.root = pkgs.zsh;
        })).config
        (evalAlone (on { shellWrapper.shells.nixos = "zsh"; })).config
      ];
      expected = [
        [ "wsl.init.shellWrapper.shells lists bob," ]
        [ "wsl.init.shellWrapper.shells lists root, but in legacy mode root's login shell is syschdemd," ]
        [ "wsl.init.shellWrapper.shells has a shell that is not an absolute path" ]
      ];
    };

    # ---- initTimeout ----

    testInitTimeoutInWslConf = {
      expr = map (config: builtins.filter (lib.hasPrefix "initTimeout=") (wslConfLines config)) [
        (evalAlone (on { initTimeout = 30000; })).config
        (evalAlone (on { mode = "legacy"; initTimeout = 1; })).config
        (evalBeside (on { initTimeout = 30000; })).config
        (evalBeside (on { mode = "legacy"; initTimeout = 30000; })).config
        besideNative
      ];
      expected = [ [ "initTimeout=30000" ] [ "initTimeout=1" ] [ "initTimeout=30000" ] [ "initTimeout=30000" ] [ "initTimeout=10000" ] ];
    };

    # Beside NixOS-WSL a value of its own option wins, and the assertion says the two differ.
    testInitTimeoutBesideNixosWslDiffers = {
      expr = map failedFirstLines [
        (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            wsl.wslConf.boot.initTimeout = 30000;
          }
        ] (on { })).config
        (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            wsl.wslConf.boot.initTimeout = 30000;
          }
        ] (on { initTimeout = 30000; })).config
      ];
      expected = [
        [ "wsl.init.initTimeout (10000) differs from NixOS-WSL's" ]
        [ ]
      ];
    };

    testRecoveryEntryInBothModesAndSettings = {
      expr = map (config: {
        text = activation config "nixos-wsl-init-recovery";
        inherit (config.system.activationScripts.nixos-wsl-init-recovery) deps;
      }) [ native legacyAlice besideNative besideLegacy ];
      expected = lib.replicate 4 {
        text = "${recoveryInstall}\n";
        deps = [ "binsh" ];
      };
    };

    testLegacyWslConf = {
      expr = legacyAlice.environment.etc."wsl.conf".text;
      expected = "[automount]\nroot=/windows/\n\n[boot]\ninitTimeout=10000\nsystemd=false\n\n[user]\ndefault=root\n";
    };

    testLegacySettings = {
      expr = settingsOf legacyAlice;
      expected = {
        defaultUser = "alice";
        readinessTimeoutSeconds = 30;
        waitFor = "multi-user.target";
        activationTimeoutSeconds = 0;
        automountRoot = "/windows/";
        bootAttempts = 0;
        loginSession = true;
        pamLibrary = "${store "p-linux-pam-1.7"}/lib/libpam.so.0";
        shells.alice = bash;
      };
    };

    # Legacy shells are logind sessions through the module's own PAM service, unless turned off.
    testLegacyPamService = {
      expr = map (config: {
        service = config.security.pam.services.nixos-wsl-init.startSession or null;
        inherit ((settingsOf config)) loginSession;
      }) [ legacyAlice besideLegacy legacyWithoutSession native ];
      expected = [
        { service = true; loginSession = true; }
        { service = true; loginSession = true; }
        { service = null; loginSession = false; }
        { service = null; loginSession = true; }
      ];
    };

    testLegacyRootShell = {
      expr = map (config: config.users.users.root.shell) [ legacyAlice besideLegacy ];
      expected = lib.replicate 2 "${package}/bin/syschdemd";
    };

    testLegacyLeavesSbinInit = {
      expr = map (config: config.system.activationScripts ? nixos-wsl-init-sbin-init) [ legacyAlice besideLegacy ];
      expected = [ false false ];
    };

    testAloneConfigurationsPassTheirAssertions = {
      expr = map failedAssertions [ native legacyAlice ];
      expected = [ [ ] [ ] ];
    };

    # ---- beside NixOS-WSL ----

    # NixOS-WSL renders the one wsl.conf, from its wsl.wslConf; this module writes no other.
    testBesideOneWslConfNative = {
      expr = {
        text = besideNative.environment.etc."wsl.conf".text;
        # But for initTimeout, which NixOS-WSL leaves out by default.
        sameAsNixosWslAlone = withoutInitTimeout besideNative.environment.etc."wsl.conf".text == besideDisabled.environment.etc."wsl.conf".text;
      };
      expected = {
        text = lib.concatStringsSep "\n" [
          "[automount]"
          "enabled=true"
          "ldconfig=false"
          "mountFsTab=false"
          "options=metadata,uid=1000,gid=100"
          "root=/mnt"
          ""
          "[boot]"
          "initTimeout=10000"
          "systemd=true"
          ""
          "[interop]"
          "appendWindowsPath=true"
          "enabled=true"
          ""
          "[network]"
          "generateHosts=true"
          "generateResolvConf=true"
          "hostname=nixos"
          ""
          "[user]"
          "default=nixos"
          ""
        ];
        sameAsNixosWslAlone = true;
      };
    };

    testBesideOneWslConfLegacy = {
      expr = {
        sections = sectionsOf besideLegacy;
        lines = builtins.filter (line: lib.hasPrefix "systemd=" line || lib.hasPrefix "default=" line || lib.hasPrefix "initTimeout=" line) (wslConfLines besideLegacy);
      };
      expected = {
        sections = [ "[automount]" "[boot]" "[interop]" "[network]" "[user]" ];
        lines = [ "initTimeout=10000" "systemd=false" "default=root" ];
      };
    };

    # With NixOS-WSL off, nothing writes wsl.conf (and an assertion says why).
    testBesideWritesNoWslConfOfItsOwn = {
      expr = (eval [ ./nixos-wsl-stand-in.nix ] (on { })).config.environment.etc ? "wsl.conf";
      expected = false;
    };

    # One writer of /sbin/init: this module's, after NixOS-WSL's createSbin; its shimSystemd emptied.
    testBesideOneSbinInitWriter = {
      expr = {
        writers = sbinInitWriters besideNative;
        ours = besideNative.system.activationScripts.nixos-wsl-init-sbin-init.deps;
        theirs = besideNative.system.activationScripts.shimSystemd;
        theirsAlone = sbinInitWriters besideDisabled;
        legacyWriters = sbinInitWriters besideLegacy;
      };
      expected = {
        writers = [ "nixos-wsl-init-sbin-init" ];
        ours = [ "createSbin" ];
        theirs = {
          deps = [ "createSbin" ];
          text = "";
        };
        theirsAlone = [ "shimSystemd" ];
        legacyWriters = [ ];
      };
    };

    # NixOS-WSL's /bin snippet keeps every entry but its recovery copy; the entry is ours.
    testBesideRecoveryEntryIsOurs = {
      expr = map (config: {
        theirs = builtins.filter (line: line != "") (lib.splitString "\n" (activation config "populateBin"));
        writers = builtins.attrNames (
          lib.filterAttrs (name: _: lib.hasInfix "/bin/nixos-wsl-recovery" (activation config name)) config.system.activationScripts
        );
      }) [ besideNative besideDisabled ];
      expected =
        let
          entries = [
            "ln -sf /init /bin/wslpath"
            "ln -sf /nix/store/1111111111111111111111111111111s-wrapped-sh/wrapper /bin/sh"
            "ln -sf /nix/store/1111111111111111111111111111111u-util-linux/bin/mount /bin/mount"
            "ln -sf /nix/store/1111111111111111111111111111111b-bash-interactive/bin/bash /bin/bash"
            "ln -sf /nix/store/1111111111111111111111111111111l-shadow/bin/login /bin/login"
          ];
        in
        [
          {
            theirs = [ "echo \"setting up /bin...\"" ] ++ entries;
            writers = [ "nixos-wsl-init-recovery" ];
          }
          {
            theirs = [ "cp -f /nix/store/1111111111111111111111111111111r-nixos-wsl-recovery/bin/nixos-wsl-recovery /bin/nixos-wsl-recovery" ] ++ entries;
            writers = [ "populateBin" ];
          }
        ];
    };

    # Nothing else of NixOS-WSL changes: no /bin entries of this module's own, its tarball builder kept.
    testBesideLeavesTheRestToNixosWsl = {
      expr = {
        ownBin = besideNative.system.activationScripts ? nixos-wsl-init-bin;
        createSbin = besideNative.system.activationScripts.createSbin == besideDisabled.system.activationScripts.createSbin;
        tarballBuilder = besideNative.system.build.tarballBuilder.name;
        ours = besideNative.system.build.wslInitTarballBuilder.name;
      };
      expected = {
        ownBin = false;
        createSbin = true;
        tarballBuilder = "nixos-wsl-tarball-builder";
        ours = "nixos-wsl-init-tarball-builder";
      };
    };

    # Beside NixOS-WSL, the user and the drives' root are NixOS-WSL's options, followed here.
    testBesideFollowsNixosWslSettings = {
      expr = settingsOf (
        (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            wsl.defaultUser = "alice";
            wsl.wslConf.automount.root = "/windows";
          }
        ] (on { })).config
      );
      expected = {
        defaultUser = "alice";
        readinessTimeoutSeconds = 90;
        activationTimeoutSeconds = 120;
        automountRoot = "/windows/";
        bootAttempts = 2;
        loginSession = true;
        pamLibrary = "${store "p-linux-pam-1.7"}/lib/libpam.so.0";
      };
    };

    # ---- beside NixOS-WSL: what its modules do, not just their options (issue 19) ----

    # Its `users` snippet gives every user a wrapper, root too: in legacy mode root's wrapper names
    # syschdemd by its `shell` link, which is how syschdemd knows it at run time (shim/legacy/enterShell.ts)
    # and runs bash instead of the wrapper from inside; the clash is fixed there, not in this module.
    testBesideUsersSnippetWrapsRoot = {
      expr = map (config: {
        rootsShell = config.system.build.nixosWslShellWrappers.root.shell;
        passwdNamesTheWrapper = lib.hasInfix (builtins.unsafeDiscardStringContext "update-users-groups root shell=${config.system.build.nixosWslShellWrappers.root.wrapper}\n") (activation config "users");
        rootsWrapperWaits = config.system.build.nixosWslShellWrappers.root.waitsForCurrentSystem;
      }) [ besideLegacy envfsLegacy ];
      expected = lib.replicate 2 {
        rootsShell = "${package}/bin/syschdemd";
        passwdNamesTheWrapper = true;
        rootsWrapperWaits = false;
      };
    };

    # Legacy mode turns [boot] systemd off by design: NixOS-WSL's warning about it is taken out, and
    # only it; where the user turns it off without this module, NixOS-WSL still warns.
    testBesideLegacyWithoutNixosWslSystemdWarning = {
      expr = {
        legacy = besideLegacy.warnings;
        legacyEnvfs = envfsLegacy.warnings;
        native = besideNative.warnings;
        withoutThisModule = (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            wsl.wslConf.boot.systemd = lib.mkForce false;
            warnings = [ "another module's warning" ];
          }
        ] { }).config.warnings;
        othersKept = (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            warnings = [ "another module's warning" ];
          }
        ] (on { mode = "legacy"; })).config.warnings;
      };
      expected = {
        legacy = [ ];
        legacyEnvfs = [ ];
        native = [ ];
        withoutThisModule = [ "another module's warning" nixosWslSystemdWarning ];
        othersKept = [ "another module's warning" ];
      };
    };

    # Under envfs NixOS-WSL's /bin snippet is off and its entries go to envfs's fallback /bin: there
    # too, every entry but its recovery copy; /bin/nixos-wsl-recovery has one writer, this module.
    testBesideEnvfsRecoveryEntryIsOurs = {
      expr = map (config: {
        populateBin = config.system.activationScripts ? populateBin;
        fallback = lib.splitString "\n" config.services.envfs.extraFallbackPathCommands;
        writers = builtins.attrNames (
          lib.filterAttrs (name: _: lib.hasInfix "/bin/nixos-wsl-recovery" (activation config name)) config.system.activationScripts
        ) ++ lib.optional (lib.hasInfix "nixos-wsl-recovery" config.services.envfs.extraFallbackPathCommands) "envfs fallback";
      }) [ envfsNative envfsLegacy envfsDisabled ];
      expected =
        let
          entries = [
            "ln -sf /init $out/wslpath"
            "ln -sf /nix/store/1111111111111111111111111111111s-wrapped-sh/wrapper $out/sh"
            "ln -sf /nix/store/1111111111111111111111111111111u-util-linux/bin/mount $out/mount"
            "ln -sf /nix/store/1111111111111111111111111111111b-bash-interactive/bin/bash $out/bash"
            "ln -sf /nix/store/1111111111111111111111111111111l-shadow/bin/login $out/login"
          ];
          ours = {
            populateBin = false;
            fallback = entries;
            writers = [ "nixos-wsl-init-recovery" ];
          };
        in
        [
          ours
          ours
          {
            populateBin = false;
            fallback = [ "cp -f /nix/store/1111111111111111111111111111111r-nixos-wsl-recovery/bin/nixos-wsl-recovery $out/nixos-wsl-recovery" ] ++ entries;
            writers = [ "envfs fallback" ];
          }
        ];
    };

    # NixOS-WSL's wrapper waits for /run/current-system without a limit when the shell lives there
    # (the default user's does): the executable links it at the activation's deadline, so a deadline
    # of 0 (none) beside NixOS-WSL is warned about; the default deadline is not.
    testBesideWrapperWaitNeedsADeadline = {
      expr = {
        waits = lib.mapAttrs (_: wrapped: wrapped.waitsForCurrentSystem) (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            users.users.nixos.shell = pkgs.bashInteractive;
          }
        ] (on { })).config.system.build.nixosWslShellWrappers;
        noDeadline = map (warning: builtins.head (lib.splitString "\n" warning)) besideNoDeadline.warnings;
        deadline = besideNative.warnings;
        alone = (evalAlone (on { activationTimeout = 0; })).config.warnings;
      };
      expected = {
        waits.nixos = true;
        noDeadline = [ "wsl.init.activationTimeout is 0 (no deadline) beside NixOS-WSL, whose shell-wrapper waits for" ];
        deadline = [ ];
        alone = [ ];
      };
    };

    testBesideConfigurationsPassTheirAssertions = {
      expr = map failedAssertions [ besideNative besideLegacy envfsNative envfsLegacy ];
      expected = lib.replicate 4 [ ];
    };

    # ---- both settings ----

    testBlessUnitInBothModesAndSettings = {
      expr = map (config: config.systemd.services.nixos-wsl-init-bless) [ native legacyAlice besideNative besideLegacy ];
      expected = lib.replicate 4 {
        description = "Mark this NixOS generation as one that boots (nixos-wsl-init)";
        wantedBy = [ "multi-user.target" ];
        after = [ "multi-user.target" ];
        restartIfChanged = false;
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          ExecStart = "${package}/bin/nixos-wsl-init bless";
        };
      };
    };

    testBlessTargetChosen = {
      expr = lib.getAttrs [ "wantedBy" "after" ] (evalAlone (on { blessTarget = "graphical.target"; })).config.systemd.services.nixos-wsl-init-bless;
      expected = {
        wantedBy = [ "graphical.target" ];
        after = [ "graphical.target" ];
      };
    };

    testBootAttemptsRendered = {
      expr = map (attempts: (settingsOf (evalAlone (on { bootAttempts = attempts; })).config).bootAttempts) [ 0 1 5 100 ];
      expected = [ 0 1 5 100 ];
    };

    testTarballBuilder = {
      expr =
        let
          builder = (evalAlone (on { image.name = "My-NixOS"; })).config.system.build.tarballBuilder;
          lines = lib.splitString "\n" builder.text;
        in
        {
          inherit (builder) name;
          runtimeInputs = map toString builder.runtimeInputs;
          install = builtins.filter (lib.hasPrefix "nixos-install ") lines;
          pack = builtins.filter (lib.hasInfix " tarball ") lines;
          temporaryRoot = builtins.filter (lib.hasPrefix "tmp=") lines;
          removedOnExit = builtins.filter (lib.hasPrefix "trap ") lines;
        };
      expected = {
        name = "nixos-wsl-init-tarball-builder";
        runtimeInputs = [
          "${pkgs.coreutils}"
          pkgs.e2fsprogs
          pkgs.nixos-install-tools
          "/nix/store/0000000000000000000000000000000n-nix-2.30.0"
        ];
        install = [ "nixos-install --root \"$tmp\" --system ${toplevel} --no-root-passwd --no-channel-copy" ];
        pack = [ "${package}/bin/nixos-wsl-init tarball \"$tmp\" \"$out\" --name My-NixOS \"$@\"" ];
        temporaryRoot = [ "tmp=$(mktemp -d \"\${TMPDIR:-/tmp}/nixos-wsl-init-image.XXXXXXXXXX\")" ];
        removedOnExit = [
          "trap 'chattr -Rf -i \"$tmp\" 2>/dev/null || true; rm -rf --one-file-system \"$tmp\"' EXIT"
          "trap 'exit 130' INT"
          "trap 'exit 143' TERM"
        ];
      };
    };

    testActivationTimeoutRendered = {
      expr = map (seconds: (settingsOf (evalAlone (on { activationTimeout = seconds; })).config).activationTimeoutSeconds) [ 0 600 3600 ];
      expected = [ 0 600 3600 ];
    };

    testReadinessTimeoutUpToAnHour = {
      expr = (settingsOf (evalAlone (on {
        mode = "legacy";
        legacy.readinessTimeout = 3600;
      })).config).readinessTimeoutSeconds;
      expected = 3600;
    };

    # One value, one meaning: where WSL mounts the drives is where the executable looks for them.
    testAutomountRootInWslConfAndSettings = {
      expr = map (mode:
        let
          config = (evalAlone (on {
            inherit mode;
            automountRoot = "/win";
          })).config;
        in
        {
          wslConf = builtins.filter (lib.hasPrefix "root=") (wslConfLines config);
          settings = (settingsOf config).automountRoot;
        }) [ "native" "legacy" ];
      expected = lib.replicate 2 {
        wslConf = [ "root=/win" ];
        settings = "/win";
      };
    };

    # Values the executable would refuse or clamp are refused here, before they reach it.
    testOutOfRangeValuesRejected = {
      expr = map rejects [
        { legacy.readinessTimeout = 0; }
        { legacy.readinessTimeout = 3601; }
        { activationTimeout = -1; }
        { activationTimeout = 3601; }
        { automountRoot = "mnt/"; }
        { automountRoot = ""; }
        { defaultUser = ""; }
        { bootAttempts = -1; }
        { bootAttempts = 1.5; }
        { blessTarget = ""; }
        { blessTarget = "multi-user"; }
        { image.name = "Nix OS"; }
        { initTimeout = 0; }
        { initTimeout = -5; }
        { shellWrapper.shells.nixos = 42; }
      ];
      expected = lib.replicate 15 true;
    };

    # Settings the types allow but that cannot work, each refused with its own message.
    testAssertions = {
      expr = map failedFirstLines [
        (evalAlone (on { defaultUser = "alice"; })).config
        (evalAlone (on { bootAttempts = 101; })).config
        (evalAlone (on { })).config
        (eval [
          { users.users.nixos.isNormalUser = true; }
          { environment.etc."wsl.conf".text = "[boot]\ncommand=echo hi\n"; }
        ] (on { })).config
        (eval [ ./nixos-wsl-stand-in.nix ] (on { })).config
        (evalBeside (on { defaultUser = "nixos2"; })).config
        (evalBeside (on { automountRoot = "/windows/"; })).config
        (evalAlone (on { defaultUser = "alice"; shellWrapper.enable = false; })).config
        (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            wsl.wslConf.boot.systemd = lib.mkForce false;
          }
        ] (on { })).config
        (eval [
          ./nixos-wsl-stand-in.nix
          {
            wsl.enable = true;
            environment.etc."wsl.conf".text = "[boot]\ncommand=echo hi\n";
          }
        ] (on { })).config
      ];
      expected = [
        [ "wsl.init.defaultUser is \"alice\", but users.users has no such user: WSL would" ]
        [ "wsl.init.bootAttempts is 101: the default generation would have to" ]
        [ ]
        [ "/etc/wsl.conf is written by wsl.init, and something else adds to it" ]
        [
          "wsl.init.defaultUser is \"nixos\", but users.users has no such user: WSL would"
          "wsl.init.enable is set beside NixOS-WSL, whose wsl.enable is false: nothing would write"
        ]
        [
          "wsl.init.defaultUser is \"nixos2\", but users.users has no such user: WSL would"
          "wsl.init.defaultUser (\"nixos2\") differs from NixOS-WSL's wsl.defaultUser"
        ]
        [ "wsl.init.automountRoot (\"/windows/\") differs from NixOS-WSL's" ]
        [ "wsl.init.defaultUser is \"alice\", but users.users has no such user: WSL would" ]
        [ "wsl.init.mode is \"native\", but wsl.wslConf.boot.systemd is false: WSL would not start" ]
        [ "/etc/wsl.conf has more than one writer (sections repeat: [automount] [boot] [interop] [network] [user] [boot]):" ]
      ];
    };

    testEveryOptionDocumented = {
      expr = map (evaluation:
        map (option: {
          inherit (option) name;
          described = builtins.isString (option.description or null) && option.description != "";
          typed = option.type != "";
          hasDefault = option ? default;
        }) (documentedIn evaluation)) [ (eval [ ] { }) (evalBeside { }) ];
      expected = lib.replicate 2 (map
        (name: {
          inherit name;
          described = true;
          typed = true;
          hasDefault = true;
        })
        optionNames);
    };

    # Defaults that depend on the configuration are shown to the reader as words, the same in both settings.
    testDefaultsRenderedFromDefaultText = {
      expr = map (evaluation:
        map (option: option.default._type) (
          builtins.filter (option: builtins.elem option.name [ "wsl.init.package" "wsl.init.defaultUser" "wsl.init.automountRoot" ]) (documentedIn evaluation)
        )) [ (eval [ ] { }) (evalBeside { }) ];
      expected = lib.replicate 2 [ "literalMD" "literalMD" "literalMD" ];
    };
  };

  # The stand-ins, for the templates' tests (template-tests.nix).
  standIns = { inherit pkgs toplevel; };

  # Must not evaluate: the error names the option and the allowed values.
  badReadinessTimeout = (evalAlone (on {
    mode = "legacy";
    legacy.readinessTimeout = 3000000;
  })).config.environment.etc."nixos-wsl-init.json".text;

  badMode = (evalAlone (on { mode = "systemd"; })).config.environment.etc."wsl.conf".text;
}
