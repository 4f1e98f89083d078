package simplyprinttest

// VendorEvents is the fake's copy of SimplyPrint's WebhookEvent enum (as the
// vendor's n8n and Activepieces integrations mirror it). webhooks/Create
// rejects any other name with status:false, as the vendor's validator would.
// It is kept apart from the client's list on purpose, so a typo in either
// shows up in the tests.
var VendorEvents = []string{
	"job.started", "job.paused", "job.resumed", "job.cancelled", "job.done",
	"job.failed", "job.bed_cleared", "job.objects_skipped",
	"printer.autoprint_state_changed", "printer.nozzle_size_changed",
	"printer.material_changed", "printer.custom_tag_assigned",
	"printer.custom_tag_detached", "printer.out_of_order_state_changed",
	"printer.ai_state_changed", "printer.ai_failure_detected",
	"printer.ai_failure_false_positive", "printer.autoprint_max_cycles",
	"company.autoprint_state_changed",
	"organization.user_signup", "organization.user_pending",
	"queue.add_item", "queue.delete_item", "queue.empty_queue", "queue.move_item",
	"queue.revive_item", "queue.item_pending_approval", "queue.item_approved",
	"queue.item_denied",
	"filament.create", "filament.update", "filament.delete", "filament.assigned",
	"filament.unassigned",
	"balance.charged", "balance.refunded", "balance.topped_up", "balance.adjusted",
	"quota.request_new", "quota.request_resolved", "quota.adjusted", "quota.reset",
	"maintenance.job_created", "maintenance.job_updated", "maintenance.job_started",
	"maintenance.job_completed", "maintenance.job_cancelled", "maintenance.job_reopened",
	"maintenance.job_overdue", "maintenance.job_deleted", "maintenance.problem_reported",
	"maintenance.problem_resolved", "maintenance.low_stock", "maintenance.task_completed",
	"maintenance.task_skipped", "maintenance.schedule_created",
	"maintenance.schedule_updated", "maintenance.schedule_deleted",
	"maintenance.spare_part_created", "maintenance.spare_part_updated",
	"maintenance.spare_part_deleted", "maintenance.stock_adjusted",
	"test",
}
