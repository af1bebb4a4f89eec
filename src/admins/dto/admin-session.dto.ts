import { z } from 'zod';

export const AdminEmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');

/** A new password; sign-in accepts any string so that old rules never lock anyone out. */
export const AdminPasswordSchema = z.string().min(12, 'at least 12 characters').max(1024);

export const AdminSignInSchema = z.strictObject({
  email: AdminEmailSchema,
  password: z.string().min(1).max(1024),
});
export type AdminSignInDto = z.infer<typeof AdminSignInSchema>;

/** Who is calling the admin API, and the CSRF token a session must echo on state changes. */
export const AdminSessionResponseSchema = z.object({
  via: z.enum(['session', 'token']).describe('How this request was authenticated'),
  admin: z
    .object({ id: z.string(), email: z.string() })
    .nullable()
    .describe('The signed-in admin; null for ADMIN_TOKEN requests'),
  csrf_token: z
    .string()
    .nullable()
    .describe('Send as X-CSRF-Token on every POST, PATCH and DELETE made with the session cookie'),
  expires_at: z
    .number()
    .int()
    .nullable()
    .describe('Unix seconds; the session is extended while it is used'),
});
export type AdminSessionResponseDto = z.infer<typeof AdminSessionResponseSchema>;

export const AdminSignedOutSchema = z.object({ signed_out: z.literal(true) });
export type AdminSignedOutDto = z.infer<typeof AdminSignedOutSchema>;

export interface AdminUserResponseDto {
  id: string;
  email: string;
  created_at: number;
  last_sign_in_at: number | null;
}
