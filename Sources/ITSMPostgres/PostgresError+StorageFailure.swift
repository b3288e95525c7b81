import ITSMCore
import Postgres


extension PostgresError: StorageFailure {
    public var storeUnavailable: Bool { databaseUnavailable }
    public var isConflict: Bool { isUniqueViolation }
}
