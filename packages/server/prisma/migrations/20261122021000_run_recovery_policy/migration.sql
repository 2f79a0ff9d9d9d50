-- Troupe: at start, a process that executes runs itself (troupe dev; troupe serve without Redis)
-- resumes the runs it left unfinished. Listing them is the one read across tenants, allowed only
-- in a transaction that sets app.run_recovery (read-only; nothing else of the run is exposed by it).
CREATE POLICY run_recovery ON "Run" FOR SELECT USING (current_setting('app.run_recovery', true) = 'on');
