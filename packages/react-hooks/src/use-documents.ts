import type {
  Document,
  DocumentStatus,
  TroupeError,
  UploadData,
  UploadDocumentOptions,
  UploadedDocument,
} from '@troupe/sdk';
import { useCallback, useEffect, useRef, useState } from 'react';
import { asTroupeError } from './as-troupe-error';
import { useTroupeClient } from './troupe-provider';
import { useTroupeQuery } from './use-troupe-query';

export interface UseDocumentsOptions {
  /** How many documents to list (newest first). */
  first?: number;
  /** Only documents with this status. */
  status?: DocumentStatus;
}

/** An upload started with `upload()`, from the first byte until its document is READY or FAILED. */
export interface DocumentUpload {
  /** A local id for React keys (not the document's id). */
  id: string;
  name: string;
  /** Bytes sent so far. */
  loaded: number;
  /** The file's size in bytes. */
  total: number;
  /** `uploading` while the bytes go, `processing` until the server has chunked and embedded it. */
  status: 'uploading' | 'processing' | 'ready' | 'failed';
  /** Why the upload or the processing failed. */
  error?: TroupeError;
  /** The document, once uploaded (the full document once READY). */
  document?: UploadedDocument | Document;
}

export interface UseDocumentsResult {
  /** The newest documents; empty until loaded. */
  documents: Document[];
  /** True while the list loads (and on the first render). */
  loading: boolean;
  /** The error of the last list load. */
  error: TroupeError | undefined;
  /** Loads the list again. */
  refetch: () => void;
  /**
   * Uploads a file (`name` defaults to the File's); follow it in `uploads`. Resolves to the stored
   * document once the bytes are up, or to undefined when the upload failed (the entry's `error` says
   * why). The list reloads when the upload finishes and when the document is processed.
   */
  upload(file: UploadData, options?: UploadDocumentOptions): Promise<UploadedDocument | undefined>;
  /** This component's uploads, oldest first. */
  uploads: DocumentUpload[];
}

let uploadCount = 0;
const noDocuments: Document[] = [];

/**
 * The tenant's documents (a session token: its own and the tenant's), with uploads that report
 * their progress. Unmounting aborts uploads in flight and stops following their processing.
 */
export function useDocuments(options: UseDocumentsOptions = {}): UseDocumentsResult {
  const { first, status } = options;
  const client = useTroupeClient();
  const list = useTroupeQuery(JSON.stringify(['documents', first, status]), (c, signal) =>
    c.documents.list({ first, status }, { signal }),
  );
  const { refetch } = list;
  const [uploads, setUploads] = useState<DocumentUpload[]>([]);
  // Unmounting aborts uploads in flight and the waits for their processing.
  const mounted = useRef(false);
  const controllers = useRef(new Set<AbortController>());
  useEffect(() => {
    mounted.current = true;
    const current = controllers.current;
    return () => {
      mounted.current = false;
      for (const controller of current) controller.abort();
      current.clear();
    };
  }, []);

  const upload = useCallback(
    async (file: UploadData, uploadOptions: UploadDocumentOptions = {}) => {
      const id = `upload-${++uploadCount}`;
      const controller = new AbortController();
      const { signal } = controller;
      const outer = uploadOptions.signal;
      const abortOnOuter = () => controller.abort(outer?.reason);
      if (outer?.aborted) abortOnOuter();
      else outer?.addEventListener('abort', abortOnOuter, { once: true });
      controllers.current.add(controller);
      const update = (patch: Partial<DocumentUpload> | null) => {
        if (!mounted.current) return;
        setUploads((all) =>
          patch ? all.map((u) => (u.id === id ? { ...u, ...patch } : u)) : all.filter((u) => u.id !== id),
        );
      };
      const name = uploadOptions.name ?? (file as Partial<File>).name ?? '';
      const total =
        typeof file === 'string'
          ? new TextEncoder().encode(file).byteLength
          : ((file as Blob).size ?? (file as ArrayBuffer).byteLength);
      if (mounted.current) setUploads((all) => [...all, { id, name, loaded: 0, total, status: 'uploading' }]);

      let uploaded: UploadedDocument;
      try {
        uploaded = await client.documents.upload(file, {
          ...uploadOptions,
          signal,
          onProgress: (progress) => {
            update({ loaded: progress.loaded, total: progress.total });
            uploadOptions.onProgress?.(progress);
          },
        });
      } catch (error) {
        // An upload the caller aborted leaves the list; a failed one stays with its error.
        update(signal.aborted ? null : { status: 'failed', error: asTroupeError(error) });
        controllers.current.delete(controller);
        return undefined;
      } finally {
        // The caller's signal stops the upload, not the processing of a stored document.
        outer?.removeEventListener('abort', abortOnOuter);
      }
      update({ status: 'processing', document: uploaded });
      if (mounted.current) refetch();
      // Processing goes on on the server: follow it without holding up the caller.
      client.documents
        .waitUntilReady(uploaded.id, { signal })
        .then(
          (document) => update({ status: 'ready', document }),
          (error: unknown) => {
            if (!signal.aborted) update({ status: 'failed', error: asTroupeError(error) });
          },
        )
        .finally(() => {
          controllers.current.delete(controller);
          if (mounted.current) refetch();
        });
      return uploaded;
    },
    [client, refetch],
  );

  return {
    documents: list.data?.nodes ?? noDocuments,
    loading: list.loading,
    error: list.error,
    refetch,
    upload,
    uploads,
  };
}
