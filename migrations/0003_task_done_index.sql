-- Counting a project's done tasks reads only this index instead of scanning every task.
CREATE INDEX tasks_project_id_done ON tasks (project_id, done);
