# Evaluation tests of nix/package.nix and flake.nix, as a user gets them:
# called with nothing but what callPackage gives (nixpkgs-stand-in.nix), every
# attribute of the derivation forced, the flake's outputs evaluated through
# their own code. `failures` is [] when every test passes; `withOldBun` must
# fail to evaluate, with the message that says which bun is needed.
#   nix-instantiate --readonly-mode --eval --strict --json nix/tests/package-tests.nix --arg lib 'import <nixpkgs/lib>' -A failures
{ lib }:

let
  pkgs = import ./nixpkgs-stand-in.nix { inherit lib; };
  package = pkgs.callPackage ../package.nix { };
  inherit (package) npmDeps;

  withOldBun = (import ./nixpkgs-stand-in.nix { inherit lib; bunVersion = "1.3.14"; }).callPackage ../package.nix { };

  flake = import ./flake-outputs.nix { inherit lib; };

  lock = lib.importJSON ../../package-lock.json;
  runtimeLockEntries = lib.filterAttrs (path: module: path != "" && !(module.dev or false)) lock.packages;
  strings = drv: lib.filter builtins.isString (lib.attrValues drv.drvAttrs);
in
{
  inherit withOldBun;

  # What the tests replay, read from the derivations themselves.
  replay = {
    inherit (package.drvAttrs) buildPhase installPhase installCheckPhase npmModules version;
    sourceFiles = map (file: lib.removePrefix "${package.drvAttrs.src.root}/" file) package.drvAttrs.src.files;
    nativeBuildInputs = map (input: input.name) package.drvAttrs.nativeBuildInputs;
    npmDeps = {
      inherit (npmDeps.drvAttrs) buildPhase npmSpecs outputHash;
      nativeBuildInputs = map (input: input.name) npmDeps.drvAttrs.nativeBuildInputs;
    };
  };

  drvPaths = {
    package = package.drvPath;
    npmDeps = npmDeps.drvPath;
    flakeDefault = flake.packages.x86_64-linux.default.drvPath;
    flakeAarch64 = flake.packages.aarch64-linux.nixos-wsl-init.drvPath;
    overlay = ((flake.overlays.default pkgs) pkgs).nixos-wsl-init.drvPath;
  };

  failures = lib.runTests {
    testForcesEveryAttribute = {
      expr = builtins.deepSeq package.drvAttrs (lib.hasSuffix ".drv" package.drvPath);
      expected = true;
    };

    testTheFlakeDefaultIsThePackage = {
      expr = flake.packages.x86_64-linux.default.drvPath;
      expected = package.drvPath;
    };

    testTheFlakeChecksBuildThePackage = {
      expr = flake.checks.x86_64-linux.package.drvPath;
      expected = package.drvPath;
    };

    # A NixOS configuration that turns the module on gets this package, with no argument to find.
    testTheModuleDefaultsToThePackage = {
      expr = (lib.evalModules {
        modules = [
          ./nixos-stand-in.nix
          ../module.nix
          { _module.args.pkgs = pkgs; }
        ];
      }).config.wsl.init.package.drvPath;
      expected = package.drvPath;
    };

    testNpmDepsIsFixedOutputByTheCommittedHash = {
      expr = {
        inherit (npmDeps.drvAttrs) outputHashMode outputHashAlgo outputHash;
      };
      expected = {
        outputHashMode = "recursive";
        outputHashAlgo = "sha256";
        outputHash = lib.fileContents ../npm-deps.hash;
      };
    };

    testNpmDepsFetchesTheRuntimePackagesByName = {
      expr = lib.sort lib.lessThan npmDeps.drvAttrs.npmSpecs;
      expected = lib.sort lib.lessThan (
        lib.mapAttrsToList (path: module: "${lib.last (lib.splitString "node_modules/" path)}@${module.version}") runtimeLockEntries
      );
    };

    testNoDevDependencyIsFetched = {
      expr = lib.filter (spec: lib.any (name: lib.hasPrefix "${name}@" spec) [ "vitest@" "execa@" "bun@" "typescript@" ]) npmDeps.drvAttrs.npmSpecs;
      expected = [ ];
    };

    testNoUrlAnywhere = {
      expr = lib.filter (lib.hasInfix "://") (strings package ++ strings npmDeps ++ npmDeps.drvAttrs.npmSpecs);
      expected = [ ];
    };

    testEveryRuntimePackageIsUnpacked = {
      expr = lib.length (lib.filter (line: line != "") (lib.splitString "\n" package.drvAttrs.npmModules));
      expected = lib.length (lib.attrNames runtimeLockEntries);
    };

    testScopedTarballName = {
      expr = lib.hasInfix "node_modules/@pkgjs/parseargs pkgjs-parseargs-" package.drvAttrs.npmModules;
      expected = true;
    };

    testBuildsWithPackageJsonsScript = {
      expr = lib.hasInfix (lib.importJSON ../../package.json).scripts.build package.drvAttrs.buildPhase;
      expected = true;
    };

    testBuildsWithBunOnly = {
      expr = map (input: input.name) package.drvAttrs.nativeBuildInputs;
      expected = [ "bun-1.4.5" ];
    };

    testNeverStrippedOrPatched = {
      expr = { inherit (package.drvAttrs) dontStrip dontPatchELF doInstallCheck; };
      expected = { dontStrip = true; dontPatchELF = true; doInstallCheck = true; };
    };

    testAnOlderBunIsRefused = {
      expr = (builtins.tryEval withOldBun.drvPath).success;
      expected = false;
    };

    testTemplates = {
      expr = lib.mapAttrs (_: template: builtins.pathExists (template.path + "/flake.nix") && builtins.pathExists (template.path + "/configuration.nix")) flake.templates;
      expected = { alone = true; beside-nixos-wsl = true; default = true; };
    };
  };
}
