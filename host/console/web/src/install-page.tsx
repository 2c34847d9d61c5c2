import { useState } from 'preact/hooks';
import { api, messageOf } from './api';
import { ConfirmDialog } from './confirm-dialog';
import type { Finding, PackPreview } from './types';

const MAX_BYTES = 64 * 1024 * 1024;

function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(file);
  });
}

function FindingList(props: { readonly findings: readonly Finding[] }) {
  return (
    <ul class="findings">
      {props.findings.map((finding, index) => (
        <li key={index} class={`finding ${finding.status}`}><span class="finding-status">{finding.status}</span> <code>{finding.rule}</code> {finding.message}</li>
      ))}
    </ul>
  );
}

/**
 * Install a pack: upload it, read what verification and the compliance check found, then apply it
 * (install into the modules directory and reload) after a confirmation.
 */
export function InstallPage() {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [preview, setPreview] = useState<PackPreview | undefined>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [asking, setAsking] = useState(false);
  const [applied, setApplied] = useState<{ ok: boolean; text: string; code?: string } | undefined>(undefined);

  const check = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (file === undefined) return;
    setPreview(undefined);
    setApplied(undefined);
    setError(undefined);
    if (file.size > MAX_BYTES) return setError(`The pack is ${file.size} bytes; the console takes up to ${MAX_BYTES / 1024 / 1024} MiB (use erpmod install for larger ones).`);
    setBusy('Verifying and checking…');
    try {
      setPreview(await api<PackPreview>('/console/api/packs/preview', 'POST', { data: await readBase64(file) }));
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(undefined);
    }
  };

  const apply = async (): Promise<void> => {
    setAsking(false);
    if (preview?.uploadId === null || preview === undefined) return;
    setBusy('Installing and reloading…');
    try {
      const result = await api<{ installed: { code: string; version: string }; reloaded: boolean; reloadError?: { code: string; message: string } }>(
        '/console/api/packs/apply', 'POST', { uploadId: preview.uploadId });
      const { code, version } = result.installed;
      setApplied(result.reloaded
        ? { ok: true, text: `${code} ${version} is installed and active.`, code }
        : { ok: false, text: `${code} ${version} is installed, but the reload failed — ${result.reloadError?.code}: ${result.reloadError?.message}`, code });
      setPreview(undefined);
    } catch (failure) {
      setApplied({ ok: false, text: `Not installed — ${messageOf(failure)}` });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="install-title">
      <h1 id="install-title">Install a pack</h1>
      <form class="card" onSubmit={check}>
        <label for="pack">Module pack (<code>.tgz</code> made by <code>erpmod pack</code>)</label>
        <input id="pack" type="file" accept=".tgz,application/gzip" onChange={(event) => {
          setFile((event.target as HTMLInputElement).files?.[0]);
          setPreview(undefined);
        }} />
        <p class="muted small">Nothing changes yet: the pack is verified (digests, signature) and checked (static and load phase) first.</p>
        <button type="submit" class="primary" disabled={file === undefined || busy !== undefined}>Verify and check</button>
      </form>
      {busy !== undefined && <p class="notice" role="status">{busy}</p>}
      {error !== undefined && <p class="error" role="alert">{error}</p>}
      {preview !== undefined && (
        <section class="card" aria-labelledby="preview-title">
          <h2 id="preview-title">{preview.ok ? `Ready to install ${preview.code} ${preview.version}` : 'The pack is refused'}</h2>
          {preview.ok && <p>{preview.replaces === null ? 'A module new to this host.' : `Replaces ${preview.code} ${preview.replaces}.`} {preview.signedBy === null ? 'Not signed.' : `Signed by key ${preview.signedBy}.`}</p>}
          {preview.error !== null && <p class="error" role="alert">{preview.error.code}: {preview.error.message}</p>}
          {preview.findings.length > 0 && <><h3>Verification</h3><FindingList findings={preview.findings} /></>}
          {preview.checkText !== null && <><h3>Compliance check</h3><pre class="report">{preview.checkText}</pre></>}
          {preview.ok && <button type="button" class="primary" onClick={() => setAsking(true)} disabled={busy !== undefined}>Install {preview.code} {preview.version}…</button>}
        </section>
      )}
      {applied !== undefined && (
        <p class={applied.ok ? 'notice' : 'error'} role={applied.ok ? 'status' : 'alert'}>
          {applied.text} {applied.code !== undefined && <a href={`#/modules/${applied.code}`}>Open {applied.code}</a>}
        </p>
      )}
      {asking && preview !== undefined && (
        <ConfirmDialog title={`Install ${preview.code} ${preview.version}?`} confirmLabel="Install and reload" onConfirm={() => void apply()} onCancel={() => setAsking(false)}>
          <p>{preview.replaces === null ? `${preview.code} is new: it is put into the modules directory and loaded.` : `${preview.code} ${preview.replaces} is replaced in the modules directory and reloaded; requests in flight finish on the old build.`}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
