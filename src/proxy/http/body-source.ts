import { Readable } from 'node:stream';

/**
 * The request body as undici consumes it. The exchange pushes the client's chunks in as they
 * arrive; backpressure flows back by pausing the client request. Handing undici this stream
 * rather than the IncomingMessage keeps the client side in QProxy's hands: when undici aborts a
 * request it destroys its body stream, and destroying an unfinished IncomingMessage would reset
 * the client connection before QProxy could answer 413/502.
 */
export class RequestBodySource extends Readable {
  constructor(private readonly client: { resume(): unknown }) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    this.client.resume();
  }
}
