-- Services' own quota reports (`quota list --refresh`, the gateway's
-- checks) steer routing too ("credit window used up"): notify them as well.
CREATE TRIGGER service_quotas_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_quotas
    FOR EACH STATEMENT EXECUTE FUNCTION switchyard_notify_change();
