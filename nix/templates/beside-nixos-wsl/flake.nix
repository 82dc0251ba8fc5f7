{
  description = "NixOS on WSL 2 with NixOS-WSL, started by nixos-wsl-init";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    nixos-wsl = {
      url = "github:nix-community/NixOS-WSL";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    nixos-wsl-init = {
      url = "github:nixos-wsl-init/nixos-wsl-init";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    { nixpkgs, nixos-wsl, nixos-wsl-init, ... }:
    let
      system = "x86_64-linux";
      wsl = nixpkgs.lib.nixosSystem {
        inherit system;
        modules = [
          nixos-wsl.nixosModules.default
          nixos-wsl-init.nixosModules.default
          ./configuration.nix
        ];
      };
    in
    {
      # Inside WSL: sudo nixos-rebuild switch --flake .#wsl
      nixosConfigurations.wsl = wsl;

      # The image to import or double-click: sudo nix run .#image -- nixos.wsl
      apps.${system}.image = {
        type = "app";
        program = "${wsl.config.system.build.wslInitTarballBuilder}/bin/nixos-wsl-init-tarball-builder";
      };
    };
}
