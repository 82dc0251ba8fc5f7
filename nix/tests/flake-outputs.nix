# flake.nix's outputs, evaluated through its own code with nixpkgs-stand-in.nix as its nixpkgs.
{ lib }:

let
  outputs = (import ../../flake.nix).outputs {
    self = outputs // { outPath = toString ../..; };
    nixpkgs = {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (system: import ./nixpkgs-stand-in.nix { inherit lib system; });
    };
  };
in
outputs
