/** Drops every permission the calling thread holds; once revoked, Deno never grants them back. */
export function revokeAllPermissions(): void {
  for (const name of ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const) {
    try {
      Deno.permissions.revokeSync({ name } as Deno.PermissionDescriptor);
    } catch {
      // a permission kind this Deno does not know has nothing to revoke
    }
  }
}
