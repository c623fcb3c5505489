import { createNodeFetch } from '../../providers/node-fetch.js';

/**
 * The fetch of the hub's MCP client traffic to downstream servers, one keep-alive pool shared by
 * every downstream client so a tool call does not pay a TCP handshake. It takes every redirect
 * mode (the SDK sends the default 'follow'; an MCP endpoint that redirects is answered as is), and
 * caps the sockets per origin so one busy downstream cannot take the hub's file descriptors.
 */
export const nodeFetch = createNodeFetch({ maxSockets: 256, redirects: 'any' });
