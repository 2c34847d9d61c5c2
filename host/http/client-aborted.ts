/**
 * The client closed its connection before the host could answer: nothing failed on the host's side, so
 * it is counted as aborted (not as an error) and never reaches a client or the error log.
 */
export class ClientAborted extends Error {
  constructor() {
    super('the client closed the connection before the reply was written');
    this.name = 'ClientAborted';
  }
}
