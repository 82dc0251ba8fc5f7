# Evaluation tests of the templates (nix flake init -t …#alone, #beside-nixos-wsl):
# each template's flake.nix evaluated through its own outputs, with this
# repository's flake as its nixos-wsl-init input, the NixOS stand-in as
# nixpkgs' nixosSystem and the NixOS-WSL stand-in as its nixos-wsl input.
# `failures` is [] when every test passes.
{ lib }:

let
  inherit (import ./module-tests.nix { inherit lib; }) standIns;

  nixpkgs.lib = lib // {
    nixosSystem =
      { system, modules }:
      lib.evalModules {
        modules = [
          ./nixos-stand-in.nix
          {
            _module.args.pkgs = standIns.pkgs;
            system.build.toplevel = standIns.toplevel;
          }
        ] ++ modules;
      };
  };
  inputs = {
    inherit nixpkgs;
    nixos-wsl-init = import ./flake-outputs.nix { inherit lib; };
    nixos-wsl.nixosModules.default = ./nixos-wsl-stand-in.nix;
  };

  outputsOf =
    name:
    let
      outputs = (import ../templates/${name}/flake.nix).outputs (inputs // { self = outputs; });
    in
    outputs;

  alone = outputsOf "alone";
  beside = outputsOf "beside-nixos-wsl";
  configOf = outputs: outputs.nixosConfigurations.wsl.config;

  failedAssertions = config: map (a: a.message) (builtins.filter (a: !a.assertion) config.assertions);
  wslConf = config: config.environment.etc."wsl.conf".text;
  summary = config: {
    inherit (config.wsl.init) enable defaultUser mode;
    failedAssertions = failedAssertions config;
    defaultUserInWslConf = lib.hasInfix "default=nixos" (wslConf config);
    systemdInWslConf = lib.hasInfix "systemd=true" (wslConf config);
    userDeclared = config.users.users ? nixos;
  };
  expectedSummary = {
    enable = true;
    defaultUser = "nixos";
    mode = "native";
    failedAssertions = [ ];
    defaultUserInWslConf = true;
    systemdInWslConf = true;
    userDeclared = true;
  };
  imageApp = outputs: outputs.apps.x86_64-linux.image;
in
{
  failures = lib.runTests {
    testAloneEvaluates = {
      expr = summary (configOf alone);
      expected = expectedSummary;
    };

    testBesideNixosWslEvaluates = {
      expr = summary (configOf beside) // { nixosWsl = (configOf beside).wsl.enable; };
      expected = expectedSummary // { nixosWsl = true; };
    };

    # One command builds the image: the app runs this project's image builder.
    testImageApps = {
      expr = map (outputs: {
        inherit ((imageApp outputs)) type;
        builder = (imageApp outputs).program == "${(configOf outputs).system.build.wslInitTarballBuilder}/bin/nixos-wsl-init-tarball-builder";
      }) [ alone beside ];
      expected = lib.replicate 2 { type = "app"; builder = true; };
    };

    # The user's name is set in one place, and nowhere else.
    testTheUserNameIsTheOneThingToChange = {
      expr = map (name: lib.length (lib.splitString "\"nixos\"" (builtins.readFile ../templates/${name}/configuration.nix)) - 1) [ "alone" "beside-nixos-wsl" ];
      expected = [ 1 1 ];
    };
  };
}
