"""Notifications: group-robot webhooks (WeCom, DingTalk, Feishu, plain JSON) for new invoices, review items and
failures, delivered in the background; and a digest by mail on a schedule."""
