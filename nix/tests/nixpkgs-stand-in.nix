# The few nixpkgs packages that nix/package.nix and flake.nix take, for
# evaluating them with nothing but nixpkgs' lib (Debian's Nix 2.8 and no
# nixpkgs checkout). Every derivation is a real `derivation` whose builder is a
# placeholder: instantiating one forces each of its attributes as `nix build`
# would, without building anything.
#
# lib.fileset is replaced: it needs builtins.readFileType, which Nix 2.8 lacks.
# The stand-in keeps the same files (a path filter) and remembers the list, so
# the tests can replay the build on the same source.
{
  lib,
  bunVersion ? "1.4.5",
  system ? "x86_64-linux",
}:

let
  placeholder = name: extra: derivation ({
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" "echo 'a stand-in: never built' >&2; exit 1" ];
  } // extra);

  # stdenv's mkDerivation as far as evaluation goes: meta and passthru stay out
  # of the derivation, finalAttrs is the fixed point, and the attributes given
  # are kept (drvAttrs) so the tests can read the build phases back.
  mkDerivation =
    attrsOrFunction:
    let
      attrs = if builtins.isFunction attrsOrFunction then lib.fix attrsOrFunction else attrsOrFunction;
      drvAttrs = removeAttrs attrs [ "meta" "passthru" ];
      drv = placeholder (attrs.name or "${attrs.pname}-${attrs.version}") drvAttrs;
    in
    drv // (attrs.passthru or { }) // { inherit drvAttrs; meta = attrs.meta or { }; passthru = attrs.passthru or { }; };

  fileset = {
    unions = paths: paths;
    toSource =
      { root, fileset }:
      let
        chosen = map toString (lib.toList fileset);
        keep = path: _type: lib.any (file: path == file || lib.hasPrefix "${file}/" path || lib.hasPrefix "${path}/" file) chosen;
      in
      {
        outPath = builtins.path { path = root; name = "source"; filter = keep; };
        root = toString root;
        files = chosen;
      };
  };

  libWithFileset = lib // { inherit fileset; };

  pkgs = {
    lib = libWithFileset;
    inherit system;
    stdenv.hostPlatform.system = system;
    stdenvNoCC = { inherit mkDerivation; };
    bun = placeholder "bun-${bunVersion}" { } // { version = bunVersion; };
    nodejs = placeholder "nodejs-22.20.0" { } // { version = "22.20.0"; };
    cacert = placeholder "nss-cacert-3.115" { };
    callPackage = lib.callPackageWith pkgs;
    runCommand = name: env: script: placeholder name (env // { inherit script; });
  };
in
pkgs
