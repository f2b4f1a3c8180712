import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/**
 * The part of OTLP's trace protocol (opentelemetry-proto, trace/v1 + collector/trace/v1) a receiver needs to
 * read spans, field numbers as upstream. Unknown fields (events, links, status details) are skipped by the
 * decoder, as protobuf allows.
 */
const otlpProto = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
  }
}
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated Link links = 13;
  Status status = 15;
}
message Link { bytes trace_id = 1; bytes span_id = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

const requestType = protobuf.parse(otlpProto).root.lookupType('otlp.ExportTraceServiceRequest');

/** One span as received, ids in lowercase hex (the W3C `traceparent` spelling). */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** Linked spans (causes that are not the parent), hex. */
  links: Array<{ traceId: string; spanId: string }>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface OtlpReceiver {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` is appended by the exporter). */
  url: string;
  spans: ReceivedSpan[];
  /** Requests that could not be decoded (content type or body); a healthy exporter sends none. */
  rejected: number;
  close(): Promise<void>;
}

/**
 * A real OTLP/HTTP trace receiver on loopback: accepts `POST /v1/traces` with `application/x-protobuf` (gzip
 * or not), decodes every span and answers an empty ExportTraceServiceResponse, as a collector does.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = { url: '', spans: [], rejected: 0, close: async () => {} };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        receiver.rejected += 1;
        response.writeHead(404).end();
        return;
      }
      try {
        if (!String(request.headers['content-type']).startsWith('application/x-protobuf'))
          throw new Error(`unexpected content type ${request.headers['content-type']}`);
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        receiver.spans.push(...decodeSpans(body));
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch {
        receiver.rejected += 1;
        response.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

interface DecodedKeyValue {
  key: string;
  value?: { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number };
}

function decodeSpans(body: Buffer): ReceivedSpan[] {
  const decoded = requestType.toObject(requestType.decode(body), { longs: Number, bytes: Buffer }) as {
    resourceSpans?: Array<{
      resource?: { attributes?: DecodedKeyValue[] };
      scopeSpans?: Array<{
        spans?: Array<{
          traceId: Buffer;
          spanId: Buffer;
          parentSpanId?: Buffer;
          name: string;
          kind?: number;
          attributes?: DecodedKeyValue[];
          links?: Array<{ traceId: Buffer; spanId: Buffer }>;
          status?: { code?: number };
        }>;
      }>;
    }>;
  };
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of decoded.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          service: String(resource['service.name'] ?? ''),
          traceId: Buffer.from(span.traceId).toString('hex'),
          spanId: Buffer.from(span.spanId).toString('hex'),
          parentSpanId: span.parentSpanId ? Buffer.from(span.parentSpanId).toString('hex') : '',
          name: span.name,
          kind: span.kind ?? 0,
          attributes: attributesOf(span.attributes),
          links: (span.links ?? []).map((link) => ({
            traceId: Buffer.from(link.traceId).toString('hex'),
            spanId: Buffer.from(link.spanId).toString('hex'),
          })),
          statusCode: span.status?.code ?? 0,
        });
      }
    }
  }
  return spans;
}

function attributesOf(list: DecodedKeyValue[] | undefined): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (!value) continue;
    const v = value.stringValue ?? value.boolValue ?? value.intValue ?? value.doubleValue;
    if (v !== undefined)
      attributes[key] = typeof v === 'string' && value.intValue !== undefined ? Number(v) : v;
  }
  return attributes;
}
