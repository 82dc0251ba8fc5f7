# nixos-wsl-init: one bun-compiled executable, installed once, with its role
# names (systemd-shim, syschdemd, nixos-wsl-recovery, nixos-wsl-shell) as links to it.
{
  lib,
  stdenvNoCC,
  bun,
  nodejs,
  importNpmLock,
  npmRegistry ? null,
}:

let
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../src
      ../shim
      ../recovery
      # The `tarball` role's code (src/main.ts imports it from there).
      ../nix/image
    ];
  };
  npmLock = import ./npm-lock.nix { inherit lib; } {
    package = lib.importJSON ../package.json;
    packageLock = lib.importJSON ../package-lock.json;
    inherit npmRegistry;
  };
in
stdenvNoCC.mkDerivation (finalAttrs: {
  pname = "nixos-wsl-init";
  inherit (npmLock.package) version;
  inherit src;

  # Every npm dependency is fetched on its own, by the integrity hash in package-lock.json.
  npmDeps = importNpmLock {
    inherit (npmLock) package packageLock;
    inherit (finalAttrs) pname version;
  };

  nativeBuildInputs = [
    bun
    nodejs
    importNpmLock.npmConfigHook
  ];

  buildPhase = ''
    runHook preBuild
    export HOME=$TMPDIR
    npm run build
    runHook postBuild
  '';

  installPhase = ''
    runHook preInstall
    install -Dm755 dist/nixos-wsl-init $out/bin/nixos-wsl-init
    for role in systemd-shim syschdemd nixos-wsl-recovery nixos-wsl-shell; do
      ln -s nixos-wsl-init $out/bin/$role
    done
    runHook postInstall
  '';

  # A `bun build --compile` executable carries its program after the ELF image:
  # stripping or patchelf would cut it off or move it.
  dontStrip = true;
  dontPatchELF = true;

  meta = {
    description = "Init shim and recovery toolkit for NixOS on WSL 2";
    license = lib.licenses.asl20;
    mainProgram = "nixos-wsl-init";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
})
