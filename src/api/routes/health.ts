import { Router } from 'express';
import { sql } from 'kysely';
import type { ApiDeps } from '../app';
import { ROUTES } from '../catalog';
import { mount } from '../route-spec';

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await probe();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** `GET /v1/health`: whether PostgreSQL and Temporal answer; 503 when either does not. No key needed. */
export function healthRouter(deps: ApiDeps): Router {
  const router = Router();
  mount(router, ROUTES.health, deps, async (_req, res) => {
    const [database, temporal] = await Promise.all([
      check(() => sql`select 1`.execute(deps.db)),
      check(() => deps.temporal.workflowService.getSystemInfo({})),
    ]);
    const ok = database.ok && temporal.ok;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', database, temporal });
  });
  return router;
}
