# Evaluation tests of the NixOS module with nixpkgs' real module system.
# Only the few NixOS options the module sets are declared here, as NixOS
# declares them (trimmed to what matters), so nixpkgs' lib is all it needs:
#   nix-instantiate --eval --strict --json nix/tests/module-tests.nix --arg lib 'import <nixpkgs/lib>' -A failures
# `failures` is [] when every test passes; `badMode` and `badReadinessTimeout`
# must fail to evaluate, with a type error.
{ lib }:

let
  inherit (lib) mkOption types;

  # Looks like a store path, which is all types.package asks of a string.
  package = "/nix/store/0000000000000000000000000000000a-nixos-wsl-init-0.1.0";

  nixosOptions = {
    options = {
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.text = mkOption { type = types.lines; }; });
        default = { };
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
      users.users = mkOption {
        type = types.attrsOf (
          types.submodule {
            options.shell = mkOption {
              type = types.nullOr (types.either types.package types.path);
              default = null;
            };
          }
        );
        default = { };
      };
    };
  };

  evalWith =
    settings:
    lib.evalModules {
      modules = [
        nixosOptions
        ../module.nix
        { _module.args.pkgs = throw "these tests give wsl.init.package explicitly"; }
        { wsl.init = settings; }
      ];
    };

  native = (evalWith {
    enable = true;
    inherit package;
  }).config;
  legacy = (evalWith {
    enable = true;
    inherit package;
    mode = "legacy";
    defaultUser = "alice";
    legacy.readinessTimeout = 30;
    activationTimeout = 0;
    automountRoot = "/windows/";
  }).config;
  disabled = (evalWith { }).config;

  settingsOf = config: builtins.fromJSON config.environment.etc."nixos-wsl-init.json".text;

  # Whether the module refuses these settings (the type check throws).
  rejects =
    settings:
    !(builtins.tryEval (builtins.deepSeq (settingsOf (evalWith ({
      enable = true;
      inherit package;
    } // settings)).config) true)).success;

  activation = config: name: config.system.activationScripts.${name}.text or config.system.activationScripts.${name};

  recoveryInstall = "${package}/bin/nixos-wsl-init install-recovery /bin/nixos-wsl-recovery --stamp /var/lib/nixos-wsl-init/recovery-entry";

  # What the NixOS manual renders of each option.
  documented = builtins.filter (option: lib.hasPrefix "wsl.init." option.name) (
    lib.optionAttrSetToDocList (evalWith { }).options
  );
in
{
  failures = lib.runTests {
    testDefaults = {
      expr =
        let
          options = (evalWith { }).options.wsl.init;
        in
        {
          enable = options.enable.value;
          mode = options.mode.value;
          defaultUser = options.defaultUser.value;
          readinessTimeout = options.legacy.readinessTimeout.value;
          activationTimeout = options.activationTimeout.value;
          automountRoot = options.automountRoot.value;
        };
      expected = {
        enable = false;
        mode = "native";
        defaultUser = "nixos";
        readinessTimeout = 90;
        activationTimeout = 120;
        automountRoot = "/mnt/";
      };
    };

    testDisabledChangesNothing = {
      expr = {
        inherit (disabled.environment) etc;
        inherit (disabled.system) activationScripts;
        inherit (disabled.users) users;
      };
      expected = {
        etc = { };
        activationScripts = { };
        users = { };
      };
    };

    testNativeWslConf = {
      expr = native.environment.etc."wsl.conf".text;
      expected = "[automount]\nroot=/mnt/\n\n[boot]\nsystemd=true\n\n[user]\ndefault=nixos\n";
    };

    testNativeSettings = {
      expr = builtins.fromJSON native.environment.etc."nixos-wsl-init.json".text;
      # Exactly the keys and defaults of src/config.ts; no mode.
      expected = {
        defaultUser = "nixos";
        readinessTimeoutSeconds = 90;
        activationTimeoutSeconds = 120;
        automountRoot = "/mnt/";
      };
    };

    testNativeLinksSbinInit = {
      expr = activation native "nixos-wsl-init-sbin-init";
      expected = ''
        mkdir -p /sbin
        ln -sfn ${package}/bin/systemd-shim /sbin/.init.tmp
        mv -Tf /sbin/.init.tmp /sbin/init
      '';
    };

    testNativeLeavesRootShell = {
      expr = native.users.users;
      expected = { };
    };

    testRecoveryEntryInBothModes = {
      expr = map (config: {
        text = activation config "nixos-wsl-init-recovery";
        inherit (config.system.activationScripts.nixos-wsl-init-recovery) deps;
      }) [ native legacy ];
      expected = lib.replicate 2 {
        text = "${recoveryInstall}\n";
        deps = [ "binsh" ];
      };
    };

    testLegacyWslConf = {
      expr = legacy.environment.etc."wsl.conf".text;
      expected = "[automount]\nroot=/windows/\n\n[boot]\nsystemd=false\n\n[user]\ndefault=root\n";
    };

    testLegacySettings = {
      expr = builtins.fromJSON legacy.environment.etc."nixos-wsl-init.json".text;
      expected = {
        defaultUser = "alice";
        readinessTimeoutSeconds = 30;
        activationTimeoutSeconds = 0;
        automountRoot = "/windows/";
      };
    };

    testLegacyRootShell = {
      expr = legacy.users.users.root.shell;
      expected = "${package}/bin/syschdemd";
    };

    testLegacyLeavesSbinInit = {
      expr = legacy.system.activationScripts ? nixos-wsl-init-sbin-init;
      expected = false;
    };

    testActivationTimeoutRendered = {
      expr = map (seconds: (settingsOf (evalWith {
        enable = true;
        inherit package;
        activationTimeout = seconds;
      }).config).activationTimeoutSeconds) [ 0 600 3600 ];
      expected = [ 0 600 3600 ];
    };

    testReadinessTimeoutUpToAnHour = {
      expr = (settingsOf (evalWith {
        enable = true;
        inherit package;
        mode = "legacy";
        legacy.readinessTimeout = 3600;
      }).config).readinessTimeoutSeconds;
      expected = 3600;
    };

    # One value, one meaning: where WSL mounts the drives is where the executable looks for them.
    testAutomountRootInWslConfAndSettings = {
      expr = map (mode:
        let
          config = (evalWith {
            enable = true;
            inherit package mode;
            automountRoot = "/win";
          }).config;
        in
        {
          wslConf = lib.filter (line: lib.hasPrefix "root=" line) (lib.splitString "\n" config.environment.etc."wsl.conf".text);
          settings = (settingsOf config).automountRoot;
        }) [ "native" "legacy" ];
      expected = lib.replicate 2 {
        wslConf = [ "root=/win" ];
        settings = "/win";
      };
    };

    # Values the executable would refuse or clamp are refused here, before they reach it.
    testOutOfRangeValuesRejected = {
      expr = map (settings: rejects settings) [
        { legacy.readinessTimeout = 0; }
        { legacy.readinessTimeout = 3601; }
        { activationTimeout = -1; }
        { activationTimeout = 3601; }
        { automountRoot = "mnt/"; }
        { automountRoot = ""; }
        { defaultUser = ""; }
      ];
      expected = lib.replicate 7 true;
    };

    testEveryOptionDocumented = {
      expr = map (option: {
        inherit (option) name;
        described = builtins.isString (option.description or null) && option.description != "";
        typed = option.type != "";
        hasDefault = option ? default;
      }) documented;
      expected = map
        (name: {
          inherit name;
          described = true;
          typed = true;
          hasDefault = true;
        })
        [
          "wsl.init.activationTimeout"
          "wsl.init.automountRoot"
          "wsl.init.defaultUser"
          "wsl.init.enable"
          "wsl.init.legacy.readinessTimeout"
          "wsl.init.mode"
          "wsl.init.package"
        ];
    };

    testPackageDefaultIsRenderedFromDefaultText = {
      expr = (lib.findFirst (option: option.name == "wsl.init.package") null documented).default;
      expected = lib.literalExpression "pkgs.callPackage ./package.nix { }";
    };
  };

  # Must not evaluate: the error names the option and the allowed values.
  badReadinessTimeout =
    (evalWith {
      enable = true;
      inherit package;
      mode = "legacy";
      legacy.readinessTimeout = 3000000;
    }).config.environment.etc."nixos-wsl-init.json".text;

  badMode =
    (evalWith {
      enable = true;
      inherit package;
      mode = "systemd";
    }).config.environment.etc."wsl.conf".text;
}
