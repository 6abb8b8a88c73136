import { Types } from 'mongoose';

/** A fresh 24-hex-digit ObjectId string, as the platform's ids are. */
export function objectId(): string {
  return new Types.ObjectId().toHexString();
}
