/**
 * Drops every permission the calling thread holds; once revoked, Deno never grants them back.
 * `permissions` is Deno's, taken before the Deno namespace was withdrawn (see harden.ts).
 */
export function revokeAllPermissions(permissions: Deno.Permissions = Deno.permissions): void {
  for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const) {
    try {
      permissions.revokeSync({ name } as Deno.PermissionDescriptor);
    } catch {
      // a permission kind this Deno does not know has nothing to revoke
    }
  }
}
