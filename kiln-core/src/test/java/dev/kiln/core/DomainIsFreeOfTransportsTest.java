package dev.kiln.core;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The domain stays free of transports, databases and serialisation libraries (JobRunr-style rule). */
class DomainIsFreeOfTransportsTest {
    private final JavaClasses core = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.kiln.core");

    @Test
    void coreDependsOnNoTransportOrStorageLibrary() {
        noClasses().should().dependOnClassesThat().resideInAnyPackage(
                        "java.sql..", "java.net.http..", "javax.sql..", "tools.jackson..", "com.fasterxml..",
                        "io.javalin..", "org.eclipse.jetty..", "org.jdbi..", "com.zaxxer..", "io.micrometer..",
                        "picocli..")
                .check(core);
    }

    @Test
    void coreDoesNotReachIntoOtherKilnModules() {
        noClasses().should().dependOnClassesThat().resideInAnyPackage(
                        "dev.kiln.json..", "dev.kiln.store..", "dev.kiln.sandbox..", "dev.kiln.server..",
                        "dev.kiln.node..", "dev.kiln.client..", "dev.kiln.cli..")
                .check(core);
    }
}
