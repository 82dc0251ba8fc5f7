{
  description = "nixos-wsl-init: init shim and recovery toolkit for NixOS on WSL 2";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forEachSystem = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The evaluation tests, as a check that fails with the failing cases.
      evalCheck =
        pkgs: name: file:
        let
          failures = (import file { inherit (pkgs) lib; }).failures;
        in
        pkgs.runCommand "nixos-wsl-init-${name}" { } (
          if failures == [ ] then
            "touch $out"
          else
            throw "${name} failed: ${builtins.toJSON failures}"
        );
    in
    {
      packages = forEachSystem (pkgs: {
        default = self.packages.${pkgs.system}.nixos-wsl-init;
        nixos-wsl-init = pkgs.callPackage ./nix/package.nix { };
      });

      overlays.default = final: _prev: {
        nixos-wsl-init = final.callPackage ./nix/package.nix { };
      };

      nixosModules.default = ./nix/module.nix;

      checks = forEachSystem (pkgs: {
        module = evalCheck pkgs "module" ./nix/tests/module-tests.nix;
        npm-lock = evalCheck pkgs "npm-lock" ./nix/tests/npm-lock-tests.nix;
      });
    };
}
