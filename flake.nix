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
        package = self.packages.${pkgs.system}.nixos-wsl-init;
        module = evalCheck pkgs "module" ./nix/tests/module-tests.nix;
        package-evaluation = evalCheck pkgs "package-evaluation" ./nix/tests/package-tests.nix;
        templates = evalCheck pkgs "templates" ./nix/tests/template-tests.nix;
      });

      # nix flake init -t <this flake>#alone (or #beside-nixos-wsl): a flake.nix
      # and a configuration.nix in which the user's name is the one thing to change.
      templates = {
        alone = {
          path = ./nix/templates/alone;
          description = "NixOS on WSL with nixos-wsl-init alone";
        };
        beside-nixos-wsl = {
          path = ./nix/templates/beside-nixos-wsl;
          description = "NixOS on WSL with NixOS-WSL, nixos-wsl-init as its init and recovery";
        };
        default = self.templates.beside-nixos-wsl;
      };
    };
}
