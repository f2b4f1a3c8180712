/**
 * Docker image references, after the grammar of distribution/reference: `[registry[:port]/]path[:tag][@digest]`.
 * Path components are lower-case; the registry may carry upper case and a port; a tag is at most 128 characters.
 */
const registry = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)`;
const pathComponent = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const tag = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const reference = new RegExp(
  `^(?:${registry}/)?${pathComponent}(?:/${pathComponent})*(?::${tag})?(?:@${digest})?$`,
);

const example = 'as in nginx:1.27, ghcr.io/acme/shop:v2 or busybox@sha256:<64 hex digits>';

/** Undefined when `image` is a Docker image reference, else a sentence saying what is wrong. */
export function describeBadImageReference(image: string): string | undefined {
  if (image === '') return 'the image reference is empty';
  if (/\s/.test(image)) return 'the image reference contains a space; give one reference, such as nginx:1.27';
  if (image.length > 512) return 'the image reference is longer than 512 characters';
  if (reference.test(image)) return undefined;
  const at = image.indexOf('@');
  const beforeDigest = at < 0 ? image : image.slice(0, at);
  const lastSlash = beforeDigest.lastIndexOf('/');
  const repository = beforeDigest.slice(lastSlash + 1).split(':')[0] ?? '';
  if (/[A-Z]/.test(repository)) return `the repository name must be lower-case (${repository.toLowerCase()})`;
  if (at >= 0 && !new RegExp(`@${digest}$`).test(image))
    return `the digest must be algorithm:hex, ${example}`;
  return `not a Docker image reference; expected [registry/][namespace/]name[:tag][@digest], ${example}`;
}
