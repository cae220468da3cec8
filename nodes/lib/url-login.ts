// A user name or password written into a URL (scheme://user:password@host/…): flows.json keeps
// such a setting in plain text, and whatever shows the URL (errors, views, the sidebar) would show
// the password. The nodes that take URLs have credential fields for it instead.

const USER_INFO = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** Whether `url` holds a user name or password. */
export function hasLogin(url: string): boolean {
  return USER_INFO.test(url);
}

/** `url` with its user name and password left out. */
export function withoutLogin(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
}
