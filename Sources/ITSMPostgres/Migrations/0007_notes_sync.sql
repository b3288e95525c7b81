-- The notes sync: how far each customer's journal entries were read (ServiceNow's
-- sys_created_on), and the user name its integration acts as, so the worker's own notes are
-- not reported back as comments.
ALTER TABLE sync_state
    ADD COLUMN notes_watermark text,
    ADD COLUMN own_user text;
