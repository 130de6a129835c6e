// Snapshots as files in SNAPSHOT_DIR (a persistent volume): one file per key, written under a
// temporary name and renamed into place, so a reader finds a whole snapshot or none, even after
// a crash mid-write.
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotStore } from "./store.ts";

/**
 * Keys name files directly, so they may only hold characters that cannot leave the directory
 * ("/" and leading dots are refused, hence "." and ".."); temporary files start with a dot, so
 * no key can name one.
 */
const SAFE_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}$/;

export class DirectorySnapshotStore implements SnapshotStore {
  constructor(private readonly directory: string) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(this.directory, { recursive: true });
    const temporary = join(this.directory, `.${key}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      const file = await open(temporary, "wx", 0o600);
      try {
        await file.writeFile(bytes);
        // On disk before the rename makes it visible: otherwise a crash can leave an empty file under the key.
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  private pathOf(key: string): string {
    if (!SAFE_KEY.test(key)) {
      throw new RangeError(`snapshot key ${JSON.stringify(key)} is refused: a key is up to 200 letters, digits, "_", "-" or "." and does not start with "."`);
    }
    return join(this.directory, key);
  }
}
