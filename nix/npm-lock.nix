# What the build needs from package-lock.json: the runtime packages (no
# devDependencies), each as the npm spec that fetches it (name@version), the
# file name `npm pack` gives its tarball, and where it goes under node_modules.
# No URL is read or written: npm fetches from its own default registry.
{ lib }:

packageLock:

let
  # node_modules/@scope/name or node_modules/a/node_modules/b -> the package's own name.
  nameOf = path: lib.last (lib.splitString "node_modules/" path);

  isRuntimeModule = path: module: path != "" && !(module.dev or false);

  describe =
    path: module:
    let
      # An aliased dependency ("x": "npm:y@1") names its real package in `name`.
      name = module.name or (nameOf path);
    in
    if module ? link || !(module ? version) then
      throw ''
        package-lock.json: ${path} is not a package from the npm registry (${
          if module ? link then "a link" else "no version"
        }), which the Nix build cannot fetch by name. Make it a registry
        dependency, or vendor it into src/.
      ''
    else
      {
        inherit path name;
        inherit (module) version integrity;
        spec = "${name}@${module.version}";
        # `npm pack` names a tarball after the package, its scope's @ dropped and / made -.
        tarball = "${lib.replaceStrings [ "@" "/" ] [ "" "-" ] name}-${module.version}.tgz";
      };
in
{
  runtimeModules = lib.mapAttrsToList describe (lib.filterAttrs isRuntimeModule packageLock.packages);
}
