import type { IncomingMessage, ServerResponse } from 'node:http';
import { messagePage, PAGE_HEADERS } from './pages.js';

/**
 * The fetchers chat and mail apps send to unfurl a pasted link, by the User-Agent each documents:
 * Slack (`Slackbot-LinkExpanding`), Discord, Telegram, X/Twitter, Facebook and Messenger
 * (`facebookexternalhit`, `Facebot`; iMessage sends both), WhatsApp, LinkedIn, Microsoft Teams and
 * Skype (`SkypeUriPreview`), Outlook's link preview, Zulip, Mattermost, Reddit, Pinterest, and the
 * embedding services. A browser's User-Agent names none of them.
 */
const PREVIEW_AGENTS =
  /slackbot|slack-imgproxy|discordbot|telegrambot|twitterbot|facebookexternalhit|facebot|whatsapp\/|linkedinbot|skypeuripreview|outlook-(?:ios|android)-linkpreview|microsoftpreview|zulipurlpreview|mattermost-bot|redditbot|pinterestbot|embedly|iframely|googlebot|bingbot|applebot/i;

/** Whether a GET comes from a link-preview fetcher, not from the person the link was given to. */
export function isLinkPreview(req: IncomingMessage): boolean {
  const agent = req.headers['user-agent'];
  return agent !== undefined && PREVIEW_AGENTS.test(agent);
}

/**
 * What a preview fetcher gets for a once-only link: a page that spends, claims and sets nothing,
 * so pasting a link into a chat (which fetches it at once, before anyone clicks) does not use it
 * up for its owner. Not indexed, not cached.
 */
export function answerLinkPreview(res: ServerResponse): void {
  const body = messagePage('Switchboard link', 'This is a personal, once-only link to a Switchboard hub. Open it in your browser to continue.');
  res.writeHead(200, {
    ...PAGE_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'x-robots-tag': 'noindex, nofollow',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
