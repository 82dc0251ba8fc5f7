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

  # The few packages the module names, and writeShellApplication keeping what
  # it was given, so that the script's text can be read back.
  pkgs = {
    coreutils = store "c-coreutils-9.7";
    util-linux = store "u-util-linux-2.41";
    shadow = store "s-shadow-4.17";
    e2fsprogs = store "e-e2fsprogs-1.47";
    nixos-install-tools = store "i-nixos-install-tools";
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
    activationTimeout = 0;
    automountRoot = "/windows/";
    bootAttempts = 0;
  })).config;
  disabled = (eval [ ] { }).config;

  besideNative = (evalBeside (on { })).config;
  besideLegacy = (evalBeside (on { mode = "legacy"; })).config;
  # NixOS-WSL on, this module imported but off: NixOS-WSL as it is.
  besideDisabled = (evalBeside { }).config;

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
    "wsl.init.legacy.readinessTimeout"
    "wsl.init.mode"
    "wsl.init.package"
  ];
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
      expected = "[automount]\nroot=/mnt/\n\n[boot]\nsystemd=true\n\n[user]\ndefault=nixos\n";
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

    # /bin/sh is NixOS's own `binsh` snippet (bash-interactive's sh); the rest WSL calls is linked here.
    testAloneLinksWhatWslRunsFromBin = {
      expr = map (config: {
        inherit (config.system.activationScripts.nixos-wsl-init-bin) deps text;
      }) [ native legacyAlice ];
      expected = lib.replicate 2 {
        deps = [ "binsh" ];
        text = ''
          ln -sfn ${pkgs.shadow}/bin/login /bin/.login.tmp
          mv -Tf /bin/.login.tmp /bin/login
          ln -sfn ${pkgs.util-linux}/bin/mount /bin/.mount.tmp
          mv -Tf /bin/.mount.tmp /bin/mount
          ln -sfn ${pkgs.coreutils}/bin/true /bin/.true.tmp
          mv -Tf /bin/.true.tmp /bin/true
        '';
      };
    };

    testNativeLeavesRootShell = {
      expr = native.users.users ? root;
      expected = false;
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
      expected = "[automount]\nroot=/windows/\n\n[boot]\nsystemd=false\n\n[user]\ndefault=root\n";
    };

    testLegacySettings = {
      expr = settingsOf legacyAlice;
      expected = {
        defaultUser = "alice";
        readinessTimeoutSeconds = 30;
        activationTimeoutSeconds = 0;
        automountRoot = "/windows/";
        bootAttempts = 0;
      };
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
        sameAsNixosWslAlone = besideNative.environment.etc."wsl.conf".text == besideDisabled.environment.etc."wsl.conf".text;
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
        lines = builtins.filter (line: lib.hasPrefix "systemd=" line || lib.hasPrefix "default=" line) (wslConfLines besideLegacy);
      };
      expected = {
        sections = [ "[automount]" "[boot]" "[interop]" "[network]" "[user]" ];
        lines = [ "systemd=false" "default=root" ];
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
      };
    };

    testBesideConfigurationsPassTheirAssertions = {
      expr = map failedAssertions [ besideNative besideLegacy ];
      expected = [ [ ] [ ] ];
    };

    # ---- both settings ----

    testBlessUnitInBothModesAndSettings = {
      expr = map (config: config.systemd.services.nixos-wsl-init-bless) [ native legacyAlice besideNative besideLegacy ];
      expected = lib.replicate 4 {
        description = "Mark this NixOS generation as one that boots (nixos-wsl-init)";
        wantedBy = [ "multi-user.target" ];
        after = [ "multi-user.target" ];
        serviceConfig = {
          Type = "oneshot";
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
          pkgs.coreutils
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
      ];
      expected = lib.replicate 12 true;
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

  # Must not evaluate: the error names the option and the allowed values.
  badReadinessTimeout = (evalAlone (on {
    mode = "legacy";
    legacy.readinessTimeout = 3000000;
  })).config.environment.etc."nixos-wsl-init.json".text;

  badMode = (evalAlone (on { mode = "systemd"; })).config.environment.etc."wsl.conf".text;
}
