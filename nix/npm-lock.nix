# Prepare package-lock.json for importNpmLock: keep only what the build needs
# (no devDependencies), and give every package the tarball URL importNpmLock
# fetches by its integrity hash. Locks written with npm's
# omit-lockfile-registry-resolved setting carry no URLs; for those, the URL is
# made from `npmRegistry` (your `npm config get registry`).
{ lib }:

{
  package,
  packageLock,
  npmRegistry ? null,
}:

let
  # node_modules/@scope/name or node_modules/a/node_modules/b -> the package's own name.
  nameOf = path: lib.last (lib.splitString "node_modules/" path);

  tarballUrl =
    path: module:
    let
      name = nameOf path;
      baseName = lib.last (lib.splitString "/" name);
    in
    if module ? resolved then
      module.resolved
    else if npmRegistry == null then
      throw ''
        package-lock.json has no "resolved" URL for ${name}@${module.version} (it was written with
        npm's omit-lockfile-registry-resolved setting). Pass npmRegistry, e.g.
          nixos-wsl-init.override { npmRegistry = "<the output of: npm config get registry>"; }
      ''
    else
      "${lib.removeSuffix "/" npmRegistry}/${name}/-/${baseName}-${module.version}.tgz";

  isRuntimeModule = path: module: path == "" || !(module.dev or false);

  withUrl =
    path: module:
    if path == "" || module ? link then module else module // { resolved = tarballUrl path module; };
in
{
  package = removeAttrs package [ "devDependencies" ];
  packageLock = packageLock // {
    packages = lib.mapAttrs withUrl (lib.filterAttrs isRuntimeModule packageLock.packages);
  };
}
