// Space: free bytes and inodes where NixOS writes (/, the store, /var). A
// store at the edge makes activations and rebuilds fail half-way.
import { statfsSync, statSync } from "node:fs";
import { errnoText } from "../../src/rootPath.ts";
import { type Check, fail, ok, warn } from "./check.ts";
import { type DoctorContext, inRoot } from "./context.ts";

const G = "space";
const MiB = 1024 * 1024;

export interface Room {
  readonly freeBytes: number;
  readonly totalBytes: number;
  readonly freeInodes: number;
  readonly totalInodes: number;
}

/** "ok", "warn" or "FAIL" for a filesystem's room: under 2 % or 256 MiB (or 1 % of inodes) fails, under 10 % or 1 GiB warns. */
export function judgeRoom(room: Room): "ok" | "warn" | "FAIL" {
  const share = room.totalBytes > 0 ? room.freeBytes / room.totalBytes : 1;
  const inodeShare = room.totalInodes > 0 ? room.freeInodes / room.totalInodes : 1;
  if (room.freeBytes < 256 * MiB || share < 0.02 || inodeShare < 0.01) return "FAIL";
  if (room.freeBytes < 1024 * MiB || share < 0.1 || inodeShare < 0.05) return "warn";
  return "ok";
}

const size = (bytes: number) => (bytes >= 1024 * MiB ? `${(bytes / 1024 / MiB).toFixed(1)} GiB` : `${(bytes / MiB).toFixed(0)} MiB`);

export function spaceChecks(ctx: DoctorContext): Check[] {
  const seen = new Set<number>();
  const checks: Check[] = [];
  for (const path of ["/", "/nix/store", "/var"]) {
    let host: string;
    let device: number;
    let room: Room;
    try {
      host = inRoot(ctx.root, path);
      device = statSync(host).dev;
      const fs = statfsSync(host);
      room = { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize, freeInodes: fs.ffree, totalInodes: fs.files };
    } catch (error) {
      checks.push(warn(G, path, `cannot be looked at: ${(error as { problem?: string }).problem ? (error as Error).message : errnoText(error)}`, "as root: df -h / /nix/store; df -i"));
      continue;
    }
    if (seen.has(device)) continue;
    seen.add(device);
    const inodes = room.totalInodes > 0 ? `, ${room.freeInodes} of ${room.totalInodes} inodes free` : "";
    const evidence = `${size(room.freeBytes)} free of ${size(room.totalBytes)}${inodes}`;
    const fix =
      "free space: as root, nix-collect-garbage -d (removes old generations: keep one that boots) and journalctl --vacuum-size=100M; " +
      "or give the virtual disk more room (wsl --manage NixOS --resize SIZE, from Windows)";
    const verdict = judgeRoom(room);
    checks.push(
      verdict === "ok"
        ? ok(G, path, evidence)
        : verdict === "warn"
          ? warn(G, path, `${evidence}: getting full (activations and rebuilds need room)`, fix)
          : fail(G, path, `${evidence}: FULL or nearly (activations, rebuilds and the boot state fail to write)`, fix),
    );
  }
  return checks;
}
