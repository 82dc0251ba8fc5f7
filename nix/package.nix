# nixos-wsl-init: one bun-compiled executable, installed once, with its role
# names (systemd-shim, syschdemd, nixos-wsl-recovery, nixos-wsl-shell) as links to it.
#
# It takes nothing but what nixpkgs' callPackage gives: `nix build`, the flake
# and the NixOS module use it as it is.
{
  lib,
  stdenvNoCC,
  bun,
  nodejs,
  cacert,
}:

let
  packageJson = lib.importJSON ../package.json;
  inherit (import ./npm-lock.nix { inherit lib; } (lib.importJSON ../package-lock.json)) runtimeModules;

  # The bun the tests validate is the one package.json pins. An older one must
  # fail here, loudly: bun before 1.4.3 drops --compile-jit-policy without a
  # word, and 1.3.12 to 1.3.x, as nixpkgs patches it, make executables that
  # crash in the loader before main on kernels before 6.7 (WSL 2's 5.15 and
  # 6.6): for PID 1 that is a distro that does not start.
  testedBun = packageJson.devDependencies.bun;
  bunIsTested = lib.assertMsg (lib.versionAtLeast bun.version testedBun) ''
    nixos-wsl-init: building needs bun ${testedBun} or newer, and this nixpkgs has bun ${bun.version}.
    An older bun silently drops build flags, and bun 1.3.12 to 1.3.x make executables that
    crash before main on WSL's kernels (nixpkgs issue 523047). Use a newer nixpkgs (e.g.
    inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable"), or give the package a
    newer bun: nixos-wsl-init.override { bun = <a bun ${testedBun} or newer>; }.
  '';

  # The runtime dependencies' tarballs, byte for byte as the registry serves
  # them: `npm pack` fetches each from npm's built-in default registry (so no
  # registry is named here), and the directory is checked by the hash in
  # nix/npm-deps.hash. The tests recompute that hash from package-lock.json
  # and say the new value when the lock changes.
  npmDeps = stdenvNoCC.mkDerivation {
    pname = "nixos-wsl-init-npm-deps";
    inherit (packageJson) version;
    dontUnpack = true;
    nativeBuildInputs = [ nodejs ];
    impureEnvVars = lib.fetchers.proxyImpureEnvVars;
    # The registry's certificate is checked against these too, whatever node was built with.
    NODE_EXTRA_CA_CERTS = "${cacert}/etc/ssl/certs/ca-bundle.crt";
    npmSpecs = map (module: module.spec) runtimeModules;
    buildPhase = ''
      runHook preBuild
      export HOME=$TMPDIR npm_config_cache=$TMPDIR/npm-cache
      mkdir -p "$out"
      npm pack --silent --pack-destination "$out" $npmSpecs >/dev/null
      runHook postBuild
    '';
    dontInstall = true;
    dontFixup = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = lib.fileContents ./npm-deps.hash;
  };

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
in
assert bunIsTested;
stdenvNoCC.mkDerivation {
  pname = "nixos-wsl-init";
  inherit (packageJson) version;
  inherit src npmDeps;

  nativeBuildInputs = [ bun ];

  # "node_modules/PATH TARBALL" lines: where each runtime package goes (no
  # empty last line: the here-string below adds the newline).
  npmModules = lib.concatMapStringsSep "\n" (module: "${module.path} ${module.tarball}") runtimeModules;

  dontConfigure = true;

  # package.json's build script is the one way the executable is made, here and in the tests.
  buildPhase = ''
    runHook preBuild
    export HOME=$TMPDIR
    while read -r path tarball; do
      mkdir -p "$path"
      tar -xzf "$npmDeps/$tarball" -C "$path" --strip-components=1
    done <<<"$npmModules"
    ${packageJson.scripts.build}
    runHook postBuild
  '';

  installPhase = ''
    runHook preInstall
    mkdir -p $out/bin
    cp dist/nixos-wsl-init $out/bin/nixos-wsl-init
    chmod 755 $out/bin/nixos-wsl-init
    for role in systemd-shim syschdemd nixos-wsl-recovery nixos-wsl-shell; do
      ln -s nixos-wsl-init $out/bin/$role
    done
    runHook postInstall
  '';

  # A `bun build --compile` executable carries its program after the ELF image:
  # stripping or patchelf would cut it off or move it.
  dontStrip = true;
  dontPatchELF = true;

  # The executable must start: a bun that made a broken one fails the build here, not at boot.
  doInstallCheck = true;
  installCheckPhase = ''
    runHook preInstallCheck
    version=$($out/bin/nixos-wsl-init --version)
    if [ "$version" != "nixos-wsl-init ${packageJson.version}" ]; then
      echo "install check: $out/bin/nixos-wsl-init --version printed '$version', not 'nixos-wsl-init ${packageJson.version}': the bun that built it made a broken executable" >&2
      exit 1
    fi
    runHook postInstallCheck
  '';

  passthru = { inherit npmDeps; };

  meta = {
    description = "Init shim and recovery toolkit for NixOS on WSL 2";
    license = lib.licenses.asl20;
    mainProgram = "nixos-wsl-init";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
}
