# Evaluation tests of npm-lock.nix on the project's real package-lock.json.
# `failures` is [] when every test passes.
{ lib }:

let
  prepare = import ../npm-lock.nix { inherit lib; };
  package = lib.importJSON ../../package.json;
  packageLock = lib.importJSON ../../package-lock.json;
  registry = "https://registry.example/";
  prepared = prepare { inherit package packageLock; npmRegistry = registry; };
  modules = removeAttrs prepared.packageLock.packages [ "" ];
  unprepared = prepare { inherit package packageLock; };
in
{
  failures = lib.runTests {
    testKeepsOnlyRuntimePackages = {
      expr = lib.all (module: !(module.dev or false)) (lib.attrValues modules)
        && modules ? "node_modules/yargs" && !(modules ? "node_modules/vitest");
      expected = true;
    };

    # execa runs commands for the tests only: neither it nor what it pulls in is built into the executable.
    testTestOnlyPackagesAreNotRuntime = {
      expr = lib.filter (path: modules ? ${path}) [
        "node_modules/execa"
        "node_modules/cross-spawn"
        "node_modules/npm-run-path"
      ];
      expected = [ ];
    };

    testDropsDevDependenciesFromPackageJson = {
      expr = {
        dev = prepared.package ? devDependencies;
        inherit (prepared.package) dependencies;
      };
      expected = {
        dev = false;
        inherit (package) dependencies;
      };
    };

    testUrlsFromTheRegistry = {
      expr = {
        scoped = modules."node_modules/@pkgjs/parseargs".resolved;
        plain = modules."node_modules/yargs".resolved;
      };
      expected = {
        scoped = "https://registry.example/@pkgjs/parseargs/-/parseargs-${modules."node_modules/@pkgjs/parseargs".version}.tgz";
        plain = "https://registry.example/yargs/-/yargs-${modules."node_modules/yargs".version}.tgz";
      };
    };

    testEveryPackageHasUrlAndIntegrity = {
      expr = lib.all (module: lib.hasPrefix registry module.resolved && module ? integrity) (lib.attrValues modules);
      expected = true;
    };

    testWithoutRegistryAndUrlsItSaysWhatToDo = {
      expr = (builtins.tryEval (builtins.deepSeq unprepared.packageLock.packages true)).success;
      expected = false;
    };
  };
}
