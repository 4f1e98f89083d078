package simplyprint

import "slices"

// Vendor event names hookflow subscribes to. The list mirrors SimplyPrint's
// WebhookEvent enum as published by the vendor's own n8n and Activepieces
// integrations, restricted to the categories hookflow records.
var (
	// JobEvents are print job lifecycle events; data carries "job" (see the
	// wire-formats reference for its shape).
	JobEvents = []string{
		"job.started", "job.paused", "job.resumed", "job.cancelled",
		"job.done", "job.failed", "job.bed_cleared", "job.objects_skipped",
	}
	// PrinterEvents are printer configuration and state events.
	PrinterEvents = []string{
		"printer.autoprint_state_changed", "printer.nozzle_size_changed",
		"printer.material_changed", "printer.custom_tag_assigned",
		"printer.custom_tag_detached", "printer.out_of_order_state_changed",
		"printer.ai_state_changed", "printer.ai_failure_detected",
		"printer.ai_failure_false_positive", "printer.autoprint_max_cycles",
	}
	// QueueEvents are print queue events; data carries "queue_item".
	QueueEvents = []string{
		"queue.add_item", "queue.delete_item", "queue.empty_queue",
		"queue.move_item", "queue.revive_item", "queue.item_pending_approval",
		"queue.item_approved", "queue.item_denied",
	}
	// FilamentEvents are spool inventory events.
	FilamentEvents = []string{
		"filament.create", "filament.update", "filament.delete",
		"filament.assigned", "filament.unassigned",
	}
	// MaintenanceEvents are maintenance module events.
	MaintenanceEvents = []string{
		"maintenance.job_created", "maintenance.job_updated",
		"maintenance.job_started", "maintenance.job_completed",
		"maintenance.job_cancelled", "maintenance.job_reopened",
		"maintenance.job_overdue", "maintenance.job_deleted",
		"maintenance.problem_reported", "maintenance.problem_resolved",
		"maintenance.low_stock", "maintenance.task_completed",
		"maintenance.task_skipped", "maintenance.schedule_created",
		"maintenance.schedule_updated", "maintenance.schedule_deleted",
		"maintenance.spare_part_created", "maintenance.spare_part_updated",
		"maintenance.spare_part_deleted", "maintenance.stock_adjusted",
	}
	// BalanceEvents are account balance events.
	BalanceEvents = []string{
		"balance.charged", "balance.refunded", "balance.topped_up", "balance.adjusted",
	}
	// QuotaEvents are print quota events.
	QuotaEvents = []string{
		"quota.request_new", "quota.request_resolved", "quota.adjusted", "quota.reset",
	}
)

// EventTest is sent by the vendor's "test webhook" button and by
// webhooks/TriggerTestWebhook; its data is an empty object.
const EventTest = "test"

// AllEvents is what a hookflow registration subscribes to: every vendor
// event of the job, printer, queue, filament, maintenance, balance and quota
// categories, plus "test". Do not modify it; copy it first.
var AllEvents = concat(JobEvents, PrinterEvents, QueueEvents, FilamentEvents,
	MaintenanceEvents, BalanceEvents, QuotaEvents, []string{EventTest})

// OtherVendorEvents are vendor events outside the categories above. hookflow
// does not subscribe to them, but they are valid in a registration.
var OtherVendorEvents = []string{
	"company.autoprint_state_changed",
	"organization.user_signup",
	"organization.user_pending",
}

// IsVendorEvent reports whether name is an event name SimplyPrint accepts in
// a webhook registration. The seed's vocabulary (job.finished,
// printer.online, queue.changed, ...) is not: map it on the inbound side.
func IsVendorEvent(name string) bool {
	return slices.Contains(AllEvents, name) || slices.Contains(OtherVendorEvents, name)
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return slices.Clip(out)
}
