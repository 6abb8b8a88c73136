import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../workflows/wallet-transaction/definitions';

const INDEXED_VALUE_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Registers the workflow's custom search attributes in the namespace, where they are missing. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of Object.values(SEARCH_ATTRIBUTES)) {
    if (existing.customAttributes?.[key.name] === undefined) {
      const indexedType = INDEXED_VALUE_TYPES[key.type];
      if (indexedType === undefined) throw new Error(`no indexed value type for search attribute ${key.name}`);
      missing[key.name] = indexedType;
    }
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (error) {
    // Two processes starting at once may both add them; what matters is that they exist now.
    const again = await connection.operatorService.listSearchAttributes({ namespace });
    if (Object.keys(missing).some((name) => again.customAttributes?.[name] === undefined)) throw error;
  }
}
