// A small client of the trueup HTTP API for the replay: every call goes over HTTP to the
// API on 127.0.0.1, with the key of the role that the call needs.
import type { UsageRow } from '../domain';

/** Status of one usage event as `POST /v1/usage` returns it. */
export interface EventStatus {
  eventId: string;
  status: 'accepted' | 'deferred' | 'duplicate' | 'rejected';
  periodIndex?: number;
  late?: boolean;
  reason?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly route: string,
    readonly body: unknown,
  ) {
    const detail = (body as { detail?: unknown } | undefined)?.detail;
    super(`${route} failed with HTTP ${status}: ${typeof detail === 'string' ? detail : JSON.stringify(body)}`);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  /**
   * @param baseUrl the API's address, such as `http://127.0.0.1:3000`
   * @param beforeRequest runs before each request; the replay moves the API's clock there
   */
  constructor(
    readonly baseUrl: string,
    private readonly beforeRequest: () => Promise<unknown> = async () => undefined,
  ) {}

  async request<T>(method: string, route: string, token: string, body?: unknown): Promise<T> {
    await this.beforeRequest();
    const response = await fetch(`${this.baseUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new ApiError(response.status, `${method} ${route}`, parsed);
    return parsed as T;
  }

  /** Creates a draft contract with `terms` and returns its id. */
  async createContract(salesToken: string, terms: unknown): Promise<string> {
    const created = await this.request<{ id: string }>('POST', '/v1/contracts', salesToken, { terms });
    return created.id;
  }

  async signContract(salesToken: string, contractId: string): Promise<void> {
    await this.request('POST', `/v1/contracts/${contractId}/sign`, salesToken, {});
  }

  async getContract(token: string, contractId: string): Promise<{ status: string; currentTier: string }> {
    return this.request('GET', `/v1/contracts/${contractId}`, token);
  }

  /** Sends one batch of at most 1,000 events and returns each event's status, in order. */
  async postUsage(ingestToken: string, contractId: string, rows: readonly Required<UsageRow>[]): Promise<EventStatus[]> {
    const answer = await this.request<{ events: EventStatus[] }>('POST', '/v1/usage', ingestToken, {
      contractId,
      events: rows.map((row) => ({ eventId: row.eventId, meter: row.meter, quantity: row.quantity, occurredAt: row.occurredAt })),
    });
    return answer.events;
  }
}
