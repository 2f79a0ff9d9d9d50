import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The @troupe/server package folder (holds prisma/), from src/ or dist/ alike. */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'prisma', 'schema.prisma'))) {
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('@troupe/server: cannot find prisma/schema.prisma next to the package');
    dir = parent;
  }
  root = dir;
  return dir;
}

export const migrationsDir = () => path.join(packageRoot(), 'prisma', 'migrations');
export const schemaPath = () => path.join(packageRoot(), 'prisma', 'schema.prisma');
