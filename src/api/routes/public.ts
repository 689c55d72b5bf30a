import { Router } from 'express';
import type { ApiDeps } from '../app';
import { ROUTES } from '../catalog';
import { mount } from '../route-spec';
import { buildOpenApiDocument } from '../openapi';

/** Routes that need no API key: the OpenAPI document. Health has its own router. */
export function publicRouter(deps: ApiDeps): Router {
  const router = Router();
  const document = buildOpenApiDocument();
  mount(router, ROUTES.openapi, deps, (_req, res) => {
    res.json(document);
  });
  return router;
}
